package provisioner

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestVerifySignature_AcceptsOnlyAFreshSignatureOfTheSameBody(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"id":"w1"}`)
	sig := Sign("s3cret", ts, body)
	cases := []struct {
		name, secret, ts string
		body             []byte
		header           string
		at               time.Time
		want             bool
	}{
		{"valid", "s3cret", ts, body, sig, now, true},
		{"valid within tolerance", "s3cret", ts, body, sig, now.Add(SignatureTolerance), true},
		{"stale", "s3cret", ts, body, sig, now.Add(SignatureTolerance + time.Second), false},
		{"from the future", "s3cret", ts, body, sig, now.Add(-SignatureTolerance - time.Second), false},
		{"tampered body", "s3cret", ts, []byte(`{"id":"w2"}`), sig, now, false},
		{"other timestamp", "s3cret", strconv.FormatInt(now.Unix()+1, 10), body, sig, now, false},
		{"wrong secret", "other", ts, body, sig, now, false},
		{"empty secret", "", ts, body, Sign("", ts, body), now, false},
		{"malformed timestamp", "s3cret", "yesterday", body, sig, now, false},
		{"bare hex", "s3cret", ts, body, strings.TrimPrefix(sig, "sha256="), now, false},
	}
	for _, c := range cases {
		if got := verifySignatureAt(c.secret, c.ts, c.body, c.header, c.at); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestTailBuffer_KeepsTheLastBytes(t *testing.T) {
	t.Parallel()
	tb := &tailBuffer{max: 8}
	tb.Write([]byte("abc"))
	if tb.String() != "abc" || tb.truncated {
		t.Fatalf("%q %v", tb.String(), tb.truncated)
	}
	tb.Write([]byte("defgh"))
	if tb.String() != "abcdefgh" || tb.truncated {
		t.Fatalf("%q %v", tb.String(), tb.truncated)
	}
	tb.Write([]byte("ij"))
	if tb.String() != "cdefghij" || !tb.truncated {
		t.Fatalf("%q %v", tb.String(), tb.truncated)
	}
	tb.Write([]byte("0123456789"))
	if tb.String() != "23456789" {
		t.Fatalf("%q", tb.String())
	}
}

func TestTrimCutCredential_RemovesTheHalfOfAValueAtEitherCut(t *testing.T) {
	t.Parallel()
	creds := map[string]string{"A": "sk-secret-123", "B": "tok-xyz"}
	if got := trimCutCredential("t-123 then text", creds); got != " then text" {
		t.Errorf("start: %q", got)
	}
	if got := trimCutCredential("plain text", creds); got != "plain text" {
		t.Errorf("start, nothing cut: %q", got)
	}
	if got := trimCutCredentialEnd("text then tok-x", creds); got != "text then " {
		t.Errorf("end: %q", got)
	}
}

// A cut that lands inside an escaped value (here URL-escaped with nothing
// kept, as Python's quote(v, safe="") writes it), even inside one of its
// escapes, leaves nothing of the value at either end.
func TestTrimCutCredential_RemovesWhatACutLeavesOfAnEscapedValue(t *testing.T) {
	t.Parallel()
	const value = "sk-aaaa/bbbb/cccc/dddd/eeee/ffff+gg=END"
	escaped := strings.NewReplacer("/", "%2F", "+", "%2B", "=", "%3D").Replace(value)
	creds := map[string]string{"A": value, "B": "tok-other"}
	for c := 1; c < len(escaped); c++ {
		if got := trimCutCredential(escaped[c:]+" then text", creds); got != " then text" {
			t.Errorf("start, cut at %d: %q", c, got)
		}
		if got := trimCutCredentialEnd("text then "+escaped[:c], creds); got != "text then " {
			t.Errorf("end, cut at %d: %q", c, got)
		}
	}
}

func TestCleanMessage_MakesAnyTextStorable(t *testing.T) {
	t.Parallel()
	got := cleanMessage("a\x00b\xffc")
	if got != "ab\uFFFDc" {
		t.Fatalf("%q", got)
	}
	long := cleanMessage(strings.Repeat("é", maxMessageBytes))
	if len(long) > maxMessageBytes+len("…") || !utf8.ValidString(long) {
		t.Fatalf("long message: %d bytes, valid %v", len(long), utf8.ValidString(long))
	}
}
