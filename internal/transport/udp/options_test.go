package udp

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		field string // named in the error; empty when valid
	}{
		{"zero means defaults", Options{}, ""},
		{"defaults", DefaultOptions(), ""},
		{"small but valid", Options{MaxPeers: 1, QueueLen: 1, RecvQueueLen: 1, HandshakeRetransmit: time.Millisecond, HandshakeTimeout: time.Millisecond, IdleTimeout: time.Millisecond, MaxQueuedBytes: MaxPayload}, ""},
		{"negative peers", Options{MaxPeers: -1}, "MaxPeers"},
		{"too many peers", Options{MaxPeers: 1<<20 + 1}, "MaxPeers"},
		{"retransmit too short", Options{HandshakeRetransmit: time.Microsecond}, "HandshakeRetransmit"},
		{"timeout below retransmit", Options{HandshakeTimeout: 100 * time.Millisecond}, "HandshakeTimeout"},
		{"negative idle", Options{IdleTimeout: -time.Second}, "IdleTimeout"},
		{"queue too long", Options{QueueLen: 1 << 17}, "QueueLen"},
		{"queued bytes below one datagram", Options{MaxQueuedBytes: 10}, "MaxQueuedBytes"},
		{"negative recv queue", Options{RecvQueueLen: -5}, "RecvQueueLen"},
		{"negative socket buffer", Options{SocketBufferBytes: -1}, "SocketBufferBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate() = %v, want ErrInvalidOptions naming %s", err, tt.field)
			}
		})
	}
	if d := (Options{}).withDefaults(); d.MaxPeers != 4096 || d.HandshakeTimeout != 5*time.Second ||
		d.HandshakeRetransmit != 250*time.Millisecond || d.IdleTimeout != time.Minute || d.QueueLen != 64 {
		t.Errorf("defaults %+v", d)
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{SessionUp: "up", SessionDown: "down", SessionMoved: "moved", 9: "EventKind(9)"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", k, k.String(), want)
		}
	}
}
