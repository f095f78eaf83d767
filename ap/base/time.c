/* SPDX-License-Identifier: Apache-2.0 */
#include "as4/time.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t as4_time_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t as4_time_mono_ms(void)
{
	return as4_time_mono_ns() / 1000000;
}

int64_t as4_time_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void as4_time_format(int64_t ms, char out[AS4_TIME_TEXT_MAX])
{
	time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	unsigned frac = (unsigned)(ms - (int64_t)secs * 1000) % 1000u;
	struct tm tm;
	gmtime_r(&secs, &tm);
	/* the date part has a fixed width for years 0..9999; strftime keeps gcc's range check quiet
	 */
	size_t n = strftime(out, AS4_TIME_TEXT_MAX - 5, "%Y-%m-%dT%H:%M:%S", &tm);
	out[n] = '.';
	out[n + 1] = (char)('0' + frac / 100);
	out[n + 2] = (char)('0' + frac / 10 % 10);
	out[n + 3] = (char)('0' + frac % 10);
	out[n + 4] = 'Z';
	out[n + 5] = '\0';
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

as4_err as4_time_parse(const char *s, int64_t *out_ms)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	int64_t frac_ms = 0;
	int offset_min = 0;
	const char *p = s;
	if (!digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) || p[7] != '-' ||
	    !digits(p + 8, 2, &d)) {
		return AS4_E_INVAL;
	}
	p += 10;
	if (*p == 'T' || *p == 't') {
		if (!digits(p + 1, 2, &h) || p[3] != ':' || !digits(p + 4, 2, &mi) || p[6] != ':' ||
		    !digits(p + 7, 2, &sec)) {
			return AS4_E_INVAL;
		}
		p += 9;
		if (*p == '.') {
			p++;
			int n = 0;
			int64_t scale = 100;
			while (*p >= '0' && *p <= '9') {
				frac_ms += (*p - '0') * scale;
				scale /= 10;
				p++;
				n++;
			}
			if (n == 0) {
				return AS4_E_INVAL;
			}
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 ||
		    om > 59) {
			return AS4_E_INVAL;
		}
		offset_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
		p += 6;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || sec > 60) {
		return AS4_E_INVAL;
	}
	int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
	int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)offset_min * 60;
	*out_ms = secs * 1000 + frac_ms;
	return AS4_OK;
}
