package deps

import (
	_ "github.com/asticode/go-astits"
	_ "github.com/coder/websocket"
	_ "github.com/flynn/noise"
	_ "github.com/grafov/m3u8"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/schollz/progressbar/v3"
	_ "golang.org/x/crypto/chacha20poly1305"
	_ "golang.org/x/net/ipv4"
	_ "golang.org/x/sys/unix"
	_ "gonum.org/v1/plot"
)
