// Package e2e holds end-to-end tests: real shoal binaries, real ffmpeg and
// ffprobe, real sockets on 127.0.0.1. It has no code of its own.
package e2e
