/* Time for deadlines: a clock that only goes forward, and sleeping. */
#ifndef MESHFS_CLOCK_H
#define MESHFS_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: differences are elapsed time, whatever the wall clock does. */
int64_t mfs_clock_ms(void);
/* Sleeps ms milliseconds (0 or more), signals that interrupt it notwithstanding. */
void mfs_sleep_ms(int ms);

#endif
