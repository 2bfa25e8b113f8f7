/*
 * hash.h - SHA-256 helpers (OpenSSL libcrypto).
 */
#ifndef PRESS_HASH_H
#define PRESS_HASH_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

/* Hex SHA-256 of data into out (SHA256_HEX_LEN + 1 bytes). */
void hash_sha256_hex(char out[SHA256_HEX_LEN + 1], const void *data, size_t n);

#endif
