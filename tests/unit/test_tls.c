/* Unit tests: selfsigned certificates and sealed private keys
 * (tls/tls.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tls/tls.h"

#define NOW ((time_t)1796500000) /* 2026-12-05 */
#define DAY 86400

static const char *const hosts[] = { "shop.example.test",
				     "www.shop.example.test" };

static void
make(char **cert, char **key)
{
	struct err e;

	assert_int_equal(tls_selfsigned_make(hosts, 2, NOW, TLS_CERT_DAYS, cert,
					     key, &e),
			 0);
	assert_non_null(strstr(*cert, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(*key, "PRIVATE KEY"));
}

static void
a_certificate_names_every_host_for_its_days(void **state)
{
	char *cert, *key;
	struct tls_cert_info ci;
	struct err e;
	const char *other[] = { "other.example.test" };

	(void)state;
	make(&cert, &key);
	assert_int_equal(tls_cert_read(cert, &ci, &e), 0);
	assert_int_equal(ci.not_before, NOW - 3600);
	assert_int_equal(ci.not_after, NOW + (time_t)TLS_CERT_DAYS * DAY);
	assert_true(strlen(ci.serial) >= 30);
	assert_true(tls_cert_names(cert, hosts, 2));
	assert_false(tls_cert_names(cert, other, 1));
	free(cert);
	tls_free_key(key);
}

static void
two_certificates_have_different_serials(void **state)
{
	char *c1, *k1, *c2, *k2;
	struct tls_cert_info a, b;
	struct err e;

	(void)state;
	make(&c1, &k1);
	make(&c2, &k2);
	assert_int_equal(tls_cert_read(c1, &a, &e), 0);
	assert_int_equal(tls_cert_read(c2, &b, &e), 0);
	assert_string_not_equal(a.serial, b.serial);
	assert_string_not_equal(k1, k2);
	free(c1);
	free(c2);
	tls_free_key(k1);
	tls_free_key(k2);
}

static void
renewal_is_due_under_30_days_or_for_other_hosts(void **state)
{
	char *cert, *key;
	const char *more[] = { "shop.example.test", "new.example.test" };

	(void)state;
	make(&cert, &key);
	assert_false(tls_cert_due(cert, hosts, 2, NOW));
	assert_false(
		tls_cert_due(cert, hosts, 2,
			     NOW + (time_t)(TLS_CERT_DAYS - TLS_RENEW_DAYS) *
					     DAY));
	assert_true(
		tls_cert_due(cert, hosts, 2,
			     NOW +
				     (time_t)(TLS_CERT_DAYS - TLS_RENEW_DAYS) *
					     DAY +
				     1));
	assert_true(tls_cert_due(cert, more, 2, NOW));
	assert_true(tls_cert_due("not a certificate", hosts, 2, NOW));
	free(cert);
	tls_free_key(key);
}

static void
a_sealed_key_opens_only_with_its_master_key(void **state)
{
	char *cert, *key, *sealed, *opened = NULL;
	struct err e;

	(void)state;
	make(&cert, &key);
	assert_int_equal(tls_key_seal("master-1", key, &sealed, &e), 0);
	assert_null(strstr(sealed, "PRIVATE KEY"));
	assert_int_equal(tls_key_open("master-1", sealed, &opened, &e), 0);
	assert_string_equal(opened, key);
	tls_free_key(opened);
	assert_int_equal(tls_key_open("master-2", sealed, &opened, &e), -1);
	assert_null(opened);
	assert_non_null(strstr(e.msg, "master key"));
	sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
	assert_int_equal(tls_key_open("master-1", sealed, &opened, &e), -1);
	assert_int_equal(tls_key_open("master-1", "abc", &opened, &e), -1);
	assert_int_equal(tls_key_seal("", key, &opened, &e), -1);
	free(sealed);
	free(cert);
	tls_free_key(key);
}

static void
no_certificate_without_a_host(void **state)
{
	char *cert, *key;
	struct err e;

	(void)state;
	assert_int_equal(tls_selfsigned_make(hosts, 0, NOW, 90, &cert, &key,
					     &e),
			 -1);
	assert_null(cert);
	assert_null(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_certificate_names_every_host_for_its_days),
		cmocka_unit_test(two_certificates_have_different_serials),
		cmocka_unit_test(
			renewal_is_due_under_30_days_or_for_other_hosts),
		cmocka_unit_test(a_sealed_key_opens_only_with_its_master_key),
		cmocka_unit_test(no_certificate_without_a_host),
	};

	return cmocka_run_group_tests_name("tls", tests, NULL, NULL);
}
