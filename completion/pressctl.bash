# bash completion for pressctl(1)                          -*- shell-script -*-
#
# Installed by `make install` as share/bash-completion/completions/pressctl
# (bash-completion loads it on the first <TAB> after `pressctl`); or
# source it from ~/.bashrc.
#
# What it offers comes from the binary being completed, so that it never
# falls behind it:
# - commands: the table of `pressctl --help`;
# - a command's options, their values (`--format text|json`) and its verbs
#   (`backup run|list|...`): its `pressctl CMD --help` usage;
# - environments (an option or operand shown as SITE/ENV) and selectors
#   (SEL: sites, environments, labels): `pressctl complete envs|selectors`
#   on the source the command line names (DIR, or --git REPO with --ref
#   and --path; the current directory by default). That reads the
#   manifests only: no secret, no state, no backend.

# The usage of `pressctl CMD --help` (the lines up to the first empty one).
_pressctl_usage()
{
	"$1" "$2" --help 2>/dev/null | sed '/^$/q'
}

# The placeholder that follows option $2 in usage $1 (SEL, SITE/ENV,
# text|json, ...); empty when the option takes no argument.
_pressctl_optarg()
{
	local re="(^|[[ ])$2 ([^] .[][^] ]*)"
	[[ $1 =~ $re ]] && printf '%s\n' "${BASH_REMATCH[2]}"
}

# COMPREPLY: the lines of $1 that start with $2$3, less the prefix $2
# (what bash already holds before the word being completed).
_pressctl_offer()
{
	local w
	COMPREPLY=()
	while IFS= read -r w; do
		[[ -n $w && $w == "$2$3"* ]] && COMPREPLY+=("${w#"$2"}")
	done <<<"$1"
}

_pressctl()
{
	local prog=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]}
	local prev='' pre='' cmd usage arg w i words
	local -a src=()
	COMPREPLY=()
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}

	if ((COMP_CWORD == 1)); then
		words=$("$prog" --help 2>/dev/null |
			sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p')
		if [[ $cur == -* ]]; then
			words=$'--help\n--version'
		fi
		_pressctl_offer "$words" "$pre" "$cur"
		return
	fi
	cmd=${COMP_WORDS[1]}
	usage=$(_pressctl_usage "$prog" "$cmd")
	[[ -n $usage ]] || return

	# The source this command line names: --git REPO [--ref] [--path], or
	# an operand that is a directory or a file.
	for ((i = 2; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--git | --ref | --path)
			((i + 1 < COMP_CWORD)) && src+=("$w" "${COMP_WORDS[i + 1]}")
			((i++))
			;;
		--*)
			[[ -n $(_pressctl_optarg "$usage" "$w") ]] && ((i++))
			;;
		*)
			[[ -e $w ]] && src=("$w")
			;;
		esac
	done

	# bash splits a word at '=' (COMP_WORDBREAKS): the value of a label
	# selector KEY=VALUE, or of --option=VALUE, is completed after it.
	if [[ $cur == = || $prev == = ]]; then
		i=$((COMP_CWORD - 1))
		if [[ $cur == = ]]; then cur=''; else ((i--)); fi
		if [[ ${COMP_WORDS[i]} == --* ]]; then
			prev=${COMP_WORDS[i]}
		else
			pre="${COMP_WORDS[i]}="
			prev=${COMP_WORDS[i - 1]}
		fi
	fi

	# The argument of the option before the cursor.
	if [[ $prev == --* ]]; then
		arg=$(_pressctl_optarg "$usage" "$prev")
		if [[ -n $arg ]]; then
			case $arg in
			SEL)
				words=$("$prog" complete selectors "${src[@]}" 2>/dev/null)
				_pressctl_offer "$words" "$pre" "$cur"
				;;
			SITE/ENV*)
				words=$("$prog" complete envs "${src[@]}" 2>/dev/null)
				_pressctl_offer "$words" "$pre" "$cur"
				;;
			DIR | REPO | REPO\|URL | SUBDIR | SOCKET | PATH)
				mapfile -t COMPREPLY < <(compgen -d -- "$cur")
				;;
			*\|*)
				# The literal choices: text|json, ADDR|none.
				words=$(tr '|' '\n' <<<"$arg" | grep -x '[a-z][a-z-]*')
				_pressctl_offer "$words" "$pre" "$cur"
				;;
			esac
			return
		fi
	fi

	if [[ $cur == -* ]]; then
		words=$({ grep -o -- '--[a-z][a-z-]*' <<<"$usage"; echo --help; } | sort -u)
		_pressctl_offer "$words" "$pre" "$cur"
		return
	fi

	# Operands: a verb first (backup run|list, hook install), then
	# environments where the usage takes SITE/ENV, and files.
	words=$(sed -n "s/^.*pressctl $cmd \\([a-z][a-z|-]*\\)\\( .*\\)\\{0,1\\}$/\\1/p" \
		<<<"$usage" | tr '|' '\n' | sort -u)
	if [[ -n $words ]] && ((COMP_CWORD == 2)); then
		_pressctl_offer "$words" "$pre" "$cur"
		return
	fi
	if [[ $usage =~ \]\ SITE/ENV ]]; then
		words=$("$prog" complete envs "${src[@]}" 2>/dev/null)
		_pressctl_offer "$words" "$pre" "$cur"
	fi
	mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "$cur")
}

complete -F _pressctl pressctl
