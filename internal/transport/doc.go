// Package transport groups the drivers that carry the engine's datagrams
// between processes: udp (Noise over UDP, between native peers) and webrtc
// (data channels, with browsers). A driver moves bytes and authenticates
// peers; it never parses the engine's messages.
package transport
