/*
 * crc32c — CRC-32C (Castagnoli), the checksum of log records.
 *
 * Uses the SSE4.2 crc32 instruction where the CPU has it, a table otherwise;
 * both give the standard CRC-32C (crc32c("123456789") == 0xE3069283).
 */
#ifndef UDR_UTIL_CRC32C_H
#define UDR_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) with len bytes. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* The same, always by table (for tests of the fallback). */
uint32_t crc32c_portable(uint32_t crc, const void *data, size_t len);

#endif
