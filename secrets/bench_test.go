package secrets

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

// benchValues returns n values of 40 to 100 bytes drawn from the alphabet of
// API keys (base64 with its + / =, and - _).
func benchValues(n int) []string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_"
	rng := rand.New(rand.NewPCG(1, 2))
	values := make([]string, n)
	for i := range values {
		b := make([]byte, 40+rng.IntN(61))
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		values[i] = "sk-" + string(b)
	}
	return values
}

// benchMessage returns about 2 KiB of a driver's stderr: log lines with
// quotes, paths, URLs and JSON, and, when leak is set, two of the values
// printed in it, one as it is and one URL-escaped.
func benchMessage(values []string, leak bool) string {
	var b strings.Builder
	for i := 0; b.Len() < 2<<10; i++ {
		fmt.Fprintf(&b, `2025-01-02T03:04:%02dZ level=warn msg="retrying request" url="https://api.example/v1/x?a=1&b=%%2F" body={"err":"rate \"limited\"","n":%d} path=C:\\tmp\\x`+"\n", i%60, i)
		if leak && i == 3 {
			fmt.Fprintf(&b, "auth failed for %s\n", values[2])
		}
		if leak && i == 9 {
			fmt.Fprintf(&b, "GET /?key=%s\n", url.QueryEscape(values[5]))
		}
	}
	return b.String()
}

// BenchmarkRedact redacts a 2 KiB status message against 8 values of 40 to
// 100 bytes, without and with values in it.
func BenchmarkRedact(b *testing.B) {
	values := benchValues(8)
	r := NewRedactor(values...)
	for _, leak := range []bool{false, true} {
		msg := benchMessage(values, leak)
		b.Run(fmt.Sprintf("leak=%t", leak), func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				_ = r.Redact(msg)
			}
		})
	}
}

// BenchmarkTrimCut trims a 2 KiB tail that starts inside an escaped value,
// and ends inside another, against 8 values of 40 to 100 bytes.
func BenchmarkTrimCut(b *testing.B) {
	values := benchValues(8)
	r := NewRedactor(values...)
	escaped := url.QueryEscape(values[3])
	msg := escaped[len(escaped)/2:] + benchMessage(values, false) + escaped[:len(escaped)/2]
	b.Run("start", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			_ = r.TrimCutStart(msg)
		}
	})
	b.Run("end", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			_ = r.TrimCutEnd(msg)
		}
	})
}
