// The dashboard: one EventSource on /api/v1/events; each event is a whole
// snapshot (docs/dashboard.md), rendered with DOM calls only (text is
// never parsed as HTML). No framework, no requests elsewhere.
'use strict';

(function () {
  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = v;
      else if (k === 'cls') e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children || []) {
      e.append(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }

  function ago(now, t) {
    if (!t) return '-';
    const s = Math.max(0, now - t);
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    if (s < 2 * 86400) return Math.floor(s / 3600) + 'h ago';
    return Math.floor(s / 86400) + 'd ago';
  }

  function when(t) {
    return t ? new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '-';
  }

  function backupCell(b) {
    if (!b) return el('span', { cls: 'quiet', text: '-' });
    if (!b.newest) return el('span', { cls: b.stale ? 'bad' : 'quiet', text: 'none' });
    const age = b.ageSeconds;
    const h = age / 3600;
    const text = h < 1 ? Math.floor(age / 60) + 'm' : h < 48 ? Math.floor(h) + 'h' : Math.floor(h / 24) + 'd';
    return el('span', { cls: b.stale ? 'bad' : 'ok', title: 'policy ' + b.policy, text: text + (b.stale ? ' (stale)' : '') });
  }

  function certCell(certs) {
    if (!certs.length) return el('span', { cls: 'quiet', text: '-' });
    return el('span', {}, certs.map(function (c) {
      const days = c.daysLeft === null ? 'none' : c.daysLeft + 'd';
      return el('div', { cls: c.healthy ? 'ok' : 'bad', title: c.error || c.subject || '' },
        [c.host + ': ' + days]);
    }));
  }

  function promotionCell(p) {
    if (!p) return el('span', { cls: 'quiet', text: '-' });
    const failed = p.guards.filter(function (g) { return !g.pass; }).map(function (g) { return g.name; });
    return el('span', {
      cls: p.allowed ? 'ok' : 'bad',
      title: p.guards.map(function (g) { return g.name + ': ' + (g.pass ? 'pass' : 'fail'); }).join('\n'),
      text: (p.allowed ? 'passed' : 'refused') + ' from ' + (p.from || '?') +
        (failed.length ? ' (' + failed.join(', ') + ')' : '')
    });
  }

  function renderEnvironments(doc) {
    document.getElementById('platform').textContent = doc.platform + ' at ' + doc.revision.slice(0, 19);
    const tbody = document.querySelector('#envs tbody');
    const rows = doc.environments.map(function (e) {
      const held = e.heldRollouts.map(function (h) { return h.container; }).join(', ');
      return el('tr', { 'data-env': e.environment, 'data-state': e.state }, [
        el('td', {}, [el('code', { text: e.environment })]),
        el('td', { text: e.stage }),
        el('td', {}, [el('span', { cls: 'state state-' + e.state, text: e.state })]),
        el('td', {}, [el('span', { cls: e.healthy ? 'ok' : 'bad', text: e.healthy ? 'healthy' : 'unhealthy',
          title: e.notes.join('\n') })]),
        el('td', { text: e.running + '/' + e.containers }),
        el('td', { cls: e.driftActions ? 'bad' : '', text: String(e.driftActions) }),
        el('td', { text: String(e.pendingActions) }),
        el('td', { cls: held ? 'bad' : 'quiet', text: held || '-' }),
        el('td', {}, [backupCell(e.backup)]),
        el('td', {}, [certCell(e.certificates)]),
        el('td', {}, [promotionCell(e.promotion)]),
        el('td', { title: e.revision || '', text: ago(doc.generatedAt, e.appliedAt) })
      ]);
    });
    tbody.replaceChildren.apply(tbody, rows);
    const w = doc.watcher;
    const last = doc.lastReconcile;
    document.getElementById('summary').textContent =
      (w.leader ? 'leader' : 'standby') + ', ' + w.phase + ' (' + w.why + ')' +
      (last ? '; last reconcile: run ' + last.run + ' ' + last.status + ' ' + ago(doc.generatedAt, last.finishedAt) : '');
    document.getElementById('generated').textContent = 'As of ' + when(doc.generatedAt) + '.';
  }

  function renderDrift(doc) {
    const list = document.getElementById('drift');
    const items = doc.drift.map(function (d) {
      const text = d.action + ' ' + d.kind + ' ' + d.name + ' (' + d.environment + ')' +
        (d.detail ? ': ' + d.detail : '');
      const li = el('li', { 'data-name': d.name, 'data-env': d.environment }, [text]);
      if (d.changes) {
        li.append(el('ul', {}, d.changes.map(function (c) {
          return el('li', { cls: 'mono', text: c.path + ': ' + JSON.stringify(c.before) + ' \u2192 ' + JSON.stringify(c.after) });
        })));
      }
      return li;
    });
    list.replaceChildren.apply(list, items);
    document.getElementById('drift-none').hidden = items.length > 0;
  }

  function renderTimeline(runs, journal) {
    const byRun = {};
    for (const j of journal.entries) {
      if (j.state !== 'done') (byRun[j.run] = byRun[j.run] || []).push(j);
    }
    const list = document.getElementById('timeline');
    list.replaceChildren.apply(list, runs.runs.map(function (r) {
      const counts = r.done === null ? '' : ': ' + r.done + ' done, ' + r.failed + ' failed, ' + r.skipped + ' skipped';
      const li = el('li', { 'data-run': String(r.id) }, [
        el('span', { cls: r.status === 'ok' ? 'ok' : r.status === 'running' ? 'warn' : 'bad', text: r.status }),
        ' ' + when(r.startedAt) + ' ' + r.command + ' run ' + r.id + ' at ' + (r.revision || '-').slice(0, 19) + counts
      ]);
      const bad = byRun[r.id];
      if (bad) {
        li.append(el('ul', {}, bad.map(function (j) {
          return el('li', { cls: 'bad', text: j.action + ' ' + j.kind + ' ' + j.target + ': ' + j.state + (j.error ? ': ' + j.error : '') });
        })));
      }
      return li;
    }));
    const errs = document.getElementById('errors');
    errs.replaceChildren.apply(errs, journal.errors.map(function (j) {
      return el('li', { cls: 'bad', 'data-target': j.target },
        [when(j.startedAt) + ' ' + j.action + ' ' + j.kind + ' ' + j.target + ' (' + (j.environment || '-') + '): ' + j.state + (j.error ? ': ' + j.error : '')]);
    }));
    document.getElementById('errors-none').hidden = journal.errors.length > 0;
  }

  function render(snap) {
    renderEnvironments(snap.environments);
    renderDrift(snap.drift);
    renderTimeline(snap.runs, snap.journal);
    document.body.setAttribute('data-phase', snap.environments.watcher.phase);
  }

  function connect() {
    const live = document.getElementById('live');
    const es = new EventSource('/api/v1/events');
    es.addEventListener('open', function () {
      live.textContent = 'live';
      live.className = 'live on';
    });
    es.addEventListener('error', function () {
      live.textContent = 'reconnecting';
      live.className = 'live off';
    });
    es.addEventListener('snapshot', function (ev) {
      render(JSON.parse(ev.data));
      document.body.setAttribute('data-event', ev.lastEventId);
    });
  }

  connect();
})();
