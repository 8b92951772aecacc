package main

import "time"

// timeoutBackstop: on Linux the container's monitor process enforces the
// wall-clock limit, wherever the container runs; a foreground run kills the
// plugin itself only this long after, should that process have failed.
const timeoutBackstop = 2 * time.Second
