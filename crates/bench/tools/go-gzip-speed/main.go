// Times Go's compress/gzip over a /metrics body, as upstream kube-state-metrics' handler compresses it
// (default level, written in 64 KiB pieces), to estimate upstream's gzip scrape on this machine.
//
//	curl -s localhost:8080/metrics > body.txt
//	go run main.go body.txt
package main

import (
	"compress/gzip"
	"fmt"
	"os"
	"time"
)

type counter struct{ n int }

func (c *counter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run main.go BODY.txt")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, level := range []int{gzip.DefaultCompression, gzip.BestSpeed} {
		best, size := time.Hour, 0
		for i := 0; i < 3; i++ {
			out := &counter{}
			w, _ := gzip.NewWriterLevel(out, level)
			start := time.Now()
			for off := 0; off < len(data); off += 64 << 10 {
				end := off + 64<<10
				if end > len(data) {
					end = len(data)
				}
				w.Write(data[off:end])
			}
			w.Close()
			if d := time.Since(start); d < best {
				best = d
			}
			size = out.n
		}
		fmt.Printf("level %d: %.3f s for %d bytes (%.0f MB/s), %d bytes out\n",
			level, best.Seconds(), len(data), float64(len(data))/best.Seconds()/1e6, size)
	}
}
