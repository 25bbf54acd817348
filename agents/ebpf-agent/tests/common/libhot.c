/*
 * hot_marker_fn in a shared library: cwork built with -DHOT_IN_LIBRARY links it; the other
 * builds include this file, so that every variant spins in the same code.
 */
#include <time.h>

static volatile unsigned long hot_sink;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

__attribute__((noinline)) void hot_marker_fn(double secs)
{
	double end = now() + secs;
	do {
		for (unsigned long i = 0; i < 2000000; i++)
			hot_sink += i * 7;
	} while (now() < end);
}
