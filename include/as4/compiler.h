/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compiler attributes, only through these macros (STYLE rule 19).
 */
#pragma once

/* The caller must look at the returned as4_err (STYLE rule 5). */
#define AS4_MUST_CHECK __attribute__((warn_unused_result))
/* printf-style format checking: f = format argument index, a = first variadic index. */
#define AS4_PRINTF(f, a) __attribute__((format(printf, f, a)))
/* A parameter or variable that may be unused in some builds. */
#define AS4_UNUSED __attribute__((unused))
/* A function that never returns. */
#define AS4_NORETURN __attribute__((noreturn))

/*
 * AS4_TESTABLE: file-static helpers that unit tests call directly. Static in normal builds,
 * external in unit-test builds (AS4_UNIT_TEST), like curl's UNITTEST.
 */
#ifdef AS4_UNIT_TEST
#define AS4_TESTABLE
#else
#define AS4_TESTABLE static
#endif

/* Number of elements of a true array. */
#define AS4_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
