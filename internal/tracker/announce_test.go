package tracker

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	hexSwarm = hexID(swarmID(0))
	hexPeer  = hexID(peerID(0))
)

func TestParseAnnounce(t *testing.T) {
	base := "swarm=" + hexSwarm + "&peer=" + hexPeer
	tests := []struct {
		name  string
		query string
		want  Announce
		param string // what a failure's message must name; "" when valid
	}{
		{"minimal", base + "&port=9001", Announce{Swarm: swarmID(0), Peer: peerID(0), Port: 9001}, ""},
		{"all fields", base + "&port=65535&event=started&up=2500000&numwant=12&ip=192.0.2.5",
			Announce{Swarm: swarmID(0), Peer: peerID(0), Port: 65535, Event: EventStarted, UploadBps: 2500000, NumWant: 12, IP: "192.0.2.5"}, ""},
		{"upper-case hex", "swarm=" + strings.ToUpper(hexSwarm) + "&peer=" + hexPeer + "&port=1",
			Announce{Swarm: swarmID(0), Peer: peerID(0), Port: 1}, ""},
		{"mapped ip made canonical", base + "&port=1&ip=::ffff:192.0.2.5",
			Announce{Swarm: swarmID(0), Peer: peerID(0), Port: 1, IP: "192.0.2.5"}, ""},
		{"ipv6", base + "&port=1&ip=2001:DB8::5&event=stopped",
			Announce{Swarm: swarmID(0), Peer: peerID(0), Port: 1, IP: "2001:db8::5", Event: EventStopped}, ""},
		{"unknown params ignored", base + "&port=1&event=update&future=1",
			Announce{Swarm: swarmID(0), Peer: peerID(0), Port: 1, Event: EventUpdate}, ""},

		{"empty", "", Announce{}, "swarm"},
		{"missing swarm", "peer=" + hexPeer + "&port=1", Announce{}, "swarm: missing"},
		{"missing peer", "swarm=" + hexSwarm + "&port=1", Announce{}, "peer: missing"},
		{"missing port", base, Announce{}, "port: missing"},
		{"short swarm", "swarm=abcd&peer=" + hexPeer + "&port=1", Announce{}, "swarm: want 64 hex digits"},
		{"non-hex peer", "swarm=" + hexSwarm + "&peer=" + strings.Repeat("zz", 32) + "&port=1", Announce{}, "peer: want 64 hex digits"},
		{"zero peer", "swarm=" + hexSwarm + "&peer=" + strings.Repeat("00", 32) + "&port=1", Announce{}, "all-zero peer"},
		{"port 0", base + "&port=0", Announce{}, "port"},
		{"port too big", base + "&port=65536", Announce{}, "port"},
		{"port negative", base + "&port=-1", Announce{}, "port"},
		{"port twice", base + "&port=1&port=2", Announce{}, "port given 2 times"},
		{"bad event", base + "&port=1&event=paused", Announce{}, "event \"paused\""},
		{"negative up", base + "&port=1&up=-5", Announce{}, "up"},
		{"huge up", base + "&port=1&up=99999999999999999999", Announce{}, "up"},
		{"negative numwant", base + "&port=1&numwant=-1", Announce{}, "numwant"},
		{"huge numwant", base + "&port=1&numwant=99999999999", Announce{}, "numwant"},
		{"bad ip", base + "&port=1&ip=example.com", Announce{}, "ip \"example.com\""},
		{"wildcard ip", base + "&port=1&ip=0.0.0.0", Announce{}, "unicast"},
		{"multicast ip", base + "&port=1&ip=ff02::1", Announce{}, "unicast"},
		{"bad escape", base + "&port=1&x=%zz", Announce{}, "query"},
		{"long value clipped", base + "&port=1&event=" + strings.Repeat("a", 10000), Announce{}, `event "` + strings.Repeat("a", 64) + `…"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAnnounce(tt.query)
			if tt.param != "" {
				if !errors.Is(err, ErrBadAnnounce) || !strings.Contains(err.Error(), tt.param) {
					t.Fatalf("ParseAnnounce = %+v, %v; want ErrBadAnnounce naming %q", got, err, tt.param)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("ParseAnnounce = %+v, want %+v", got, tt.want)
			}
			again, err := ParseAnnounce(got.Values().Encode())
			if err != nil || again != got {
				t.Fatalf("round trip: %+v, %v; want %+v", again, err, got)
			}
		})
	}
}

// FuzzParseAnnounce checks that no query string panics the parser and that
// whatever it accepts survives a round trip through Values.
func FuzzParseAnnounce(f *testing.F) {
	base := "swarm=" + hexSwarm + "&peer=" + hexPeer
	for _, s := range []string{
		"", base + "&port=1", base + "&port=65535&event=started&up=1&numwant=3&ip=::1",
		base + "&port=1&ip=fe80::1%25eth0", base + "&port=1&port=1", "%", "a=b;c", base + "&numwant=1e3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		a, err := ParseAnnounce(q)
		if err != nil {
			if !errors.Is(err, ErrBadAnnounce) {
				t.Fatalf("error %v does not wrap ErrBadAnnounce", err)
			}
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("accepted %+v that Validate refuses: %v", a, err)
		}
		again, err := ParseAnnounce(a.Values().Encode())
		if err != nil || again != a {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", q, again, err, a)
		}
	})
}

func TestResponseJSON(t *testing.T) {
	in := Response{Interval: 30 * time.Second, Peers: []Peer{
		{Addr: mustAddrPort("192.0.2.1:8081"), Seed: true},
		{Addr: mustAddrPort("[2001:db8::2]:9001"), ID: peerID(2)},
	}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"interval_s":30,"peers":[{"addr":"192.0.2.1:8081","seed":true},{"addr":"[2001:db8::2]:9001","peer":"` +
		hexID(peerID(2)) + `"}]}`
	if string(b) != want {
		t.Fatalf("Marshal = %s\nwant      %s", b, want)
	}
	var out Response
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Interval != in.Interval || len(out.Peers) != 2 || out.Peers[0] != in.Peers[0] || out.Peers[1] != in.Peers[1] {
		t.Fatalf("round trip = %+v, want %+v", out, in)
	}

	bad := []struct{ name, body, says string }{
		{"not json", `<html>`, "invalid character"},
		{"null", `null`, "interval_s 0"},
		{"no interval", `{"peers":[]}`, "interval_s 0"},
		{"negative interval", `{"interval_s":-1,"peers":[]}`, "interval_s -1"},
		{"interval too long", `{"interval_s":999999,"peers":[]}`, "interval_s 999999"},
		{"interval as string", `{"interval_s":"30","peers":[]}`, "cannot unmarshal"},
		{"peers not a list", `{"interval_s":30,"peers":{}}`, "cannot unmarshal"},
		{"addr without port", `{"interval_s":30,"peers":[{"addr":"192.0.2.1"}]}`, "peers[0].addr"},
		{"addr port 0", `{"interval_s":30,"peers":[{"addr":"192.0.2.1:0"}]}`, "peers[0].addr"},
		{"addr wildcard", `{"interval_s":30,"peers":[{"addr":"0.0.0.0:1"}]}`, "peers[0].addr"},
		{"addr hostname", `{"interval_s":30,"peers":[{"addr":"host:1"}]}`, "peers[0].addr"},
		{"short peer id", `{"interval_s":30,"peers":[{"addr":"192.0.2.1:1","peer":"ab"}]}`, "peers[0].peer"},
		{"non-hex peer id", `{"interval_s":30,"peers":[{"addr":"192.0.2.1:1","peer":"` + strings.Repeat("x", 64) + `"}]}`, "peers[0].peer"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			var r Response
			err := json.Unmarshal([]byte(tt.body), &r)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("Unmarshal(%s) = %v, want an error saying %q", tt.body, err, tt.says)
			}
		})
	}
}

// FuzzResponseJSON checks that no answer panics the Client's decoder and that
// whatever it accepts encodes back to the same Response.
func FuzzResponseJSON(f *testing.F) {
	for _, s := range []string{
		`{"interval_s":30,"peers":[]}`,
		`{"interval_s":30,"peers":[{"addr":"192.0.2.1:8081","seed":true},{"addr":"[::1]:2","peer":"` + hexPeer + `"}]}`,
		`{"interval_s":1,"peers":[{"addr":"[fe80::1%eth0]:3"}]}`,
		`null`, `[]`, `{"interval_s":1e400}`, `{"peers":[null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Response
		if err := json.Unmarshal(b, &r); err != nil {
			return
		}
		enc, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("Marshal of decoded %+v: %v", r, err)
		}
		var again Response
		if err := json.Unmarshal(enc, &again); err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		if again.Interval != r.Interval || len(again.Peers) != len(r.Peers) {
			t.Fatalf("round trip %+v -> %+v", r, again)
		}
		for i := range r.Peers {
			if again.Peers[i] != r.Peers[i] || !r.Peers[i].Addr.IsValid() {
				t.Fatalf("peer %d: %+v -> %+v", i, r.Peers[i], again.Peers[i])
			}
		}
	})
}
