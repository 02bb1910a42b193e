package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkLivePush measures Push with progressive clients subscribed, whose
// queues are drained as a serving goroutine would.
func BenchmarkLivePush(b *testing.B) {
	for _, clients := range []int{0, 8, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			l := NewLive("bench", LiveOptions{MaxClientLagBytes: 1 << 30, Logger: quiet})
			var cls []*liveClient
			for range clients {
				_, cancel := context.WithCancelCause(context.Background())
				cls = append(cls, l.subscribe(cancel, "bench"))
			}
			data := make([]byte, 16<<10)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			seq := uint64(0)
			for b.Loop() {
				l.Push(LiveChunk{Seq: seq, RAP: seq%50 == 0, Data: data}, 40*time.Millisecond)
				seq++
				if seq%256 == 0 {
					for _, cl := range cls {
						batch, _ := l.take(cl)
						l.written(cl, len(batch)*len(data))
					}
				}
			}
		})
	}
}

// BenchmarkPlaylist measures rendering a playlist of 15 segments.
func BenchmarkPlaylist(b *testing.B) {
	l := NewLive("bench", LiveOptions{Logger: quiet})
	run(l, series(0, 16, 1, 2*time.Second))
	b.ReportAllocs()
	for b.Loop() {
		if l.Playlist() == nil {
			b.Fatal("no playlist")
		}
	}
}

// BenchmarkFileRange measures a 1 MiB range request over loopback HTTP.
func BenchmarkFileRange(b *testing.B) {
	const size = 8 << 20
	src := newMemSource("be", "big.mp4", make([]byte, size))
	src.unlock(0, size)
	_, url := serveFile(b, src)
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	b.SetBytes(1 << 20)
	i := 0
	for b.Loop() {
		off := (i * 1 << 20) % (size - 1<<20)
		i++
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+1<<20-1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent || n != 1<<20 {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
}
