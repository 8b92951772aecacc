package main

// timeoutBackstop: the FreeBSD backend has no monitor process, so a
// foreground run enforces the wall-clock limit itself, on time.
const timeoutBackstop = 0
