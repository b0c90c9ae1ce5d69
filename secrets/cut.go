package secrets

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// A text kept to its last (or first) bytes — the tail of a command's
// stderr, the output of a command killed while it wrote — may begin (or
// end) with part of a value, which Redact cannot find: it is not a whole
// value. TrimCutStart and TrimCutEnd remove such a part in any of the forms
// Redact finds, in the same views of the text, even when the cut falls
// inside an escape: the text then begins with the end of one ("2F" of "%2F",
// "e9" of "\u00e9", "de00" of a surrogate pair), which is accepted only if
// it can be the end of an escape of the value's character before the
// remainder. Parts of any length are removed, as a part of a value reveals
// that much of it, except the lone end of an escape of one byte: many a
// byte ("2", ";") ends an escape of almost any character, and one digit of
// an escape reveals less than one character.

// TrimCutStart returns s less its longest prefix that is what a cut can
// leave of a value (or of a line of a value of at least MinLineLength
// bytes): a suffix of it, in any form Redact finds, possibly starting
// inside an escape. A whole value at the start goes too: trimming only a
// shorter suffix of it could leave the rest of it, no longer whole, to
// Redact. If all of s but at most an unfinished escape
// at its end is inside one value (a value longer than s, cut at both ends),
// and that is at least MinLineLength bytes of it, it returns "". A nil
// Redactor returns s. Its cost is about 3·maxEscape times the length of s
// plus the lengths of the values.
func (r *Redactor) TrimCutStart(s string) string {
	if r == nil || len(r.needles) == 0 || s == "" {
		return s
	}
	cut := 0
	for _, v := range viewsOf(s) {
		for f := 0; f <= min(maxEscape-1, len(s)); f++ {
			frag := s[:f]
			if f > 0 && (v == viewRaw || !escapeTail(frag)) {
				break // a longer fragment holds this one
			}
			d := decode(s[f:], v)
			border := prefixFunction(d.text)
			for _, n := range r.needlesFor(v) {
				k, ok, inside := endOfValue(d, border, n, frag)
				switch {
				case inside:
					return ""
				case ok && k > 0:
					cut = max(cut, f+d.end(k-1))
				case ok:
					cut = max(cut, f)
				}
			}
		}
	}
	return s[cut:]
}

// endOfValue returns the length k of the longest prefix of d.text that is a
// suffix of needle n (the whole of it too) and that frag, the end of an escape cut before
// it, can be the end of an escape of the character of n before (ok false
// if there is none; k = 0 with ok if frag alone, of two bytes or more, is
// the end of an escape of n's last character). inside reports that d.text,
// but for at most an unfinished escape at its end, occurs in n after a
// character frag can end, and is at least MinLineLength bytes. border is
// prefixFunction(d.text). Its cost is linear in len(n), plus len(d.text)
// for the borders it tries.
func endOfValue(d decoded, border []int32, n, frag string) (k int, ok, inside bool) {
	t := d.text
	q, best := 0, 0 // q bytes of t end at n[i]; t[:best] is in n after frag
	for i := 0; i < len(n) && t != ""; i++ {
		for q > 0 && t[q] != n[i] {
			q = int(border[q-1])
		}
		if t[q] == n[i] {
			q++
		}
		if q > best && q >= MinLineLength && (frag == "" || fragmentEnds(frag, n[:i+1-q], true)) {
			best = q
		}
		if q == len(t) && i < len(n)-1 {
			q = int(border[q-1])
		}
	}
	if best > 0 {
		if rest := d.unread(best); rest == "" || len(rest) < maxEscape && escapeHead(rest) {
			return 0, false, true
		}
	}
	for k = q; ; k = int(border[k-1]) {
		switch {
		case frag == "" && k > 0:
			return k, true, false
		case frag != "" && (k > 0 || len(frag) > 1) && fragmentEnds(frag, n[:len(n)-k], k > 0):
			return k, true, false
		}
		if k == 0 {
			return 0, false, false
		}
	}
}

// TrimCutEnd returns s less its longest suffix that is what a cut can leave
// of a value (or of a line of a value of at least MinLineLength bytes): a
// prefix of it (the whole value too, as in TrimCutStart), in any form Redact
// finds, possibly ending inside an escape. A nil Redactor returns s.
func (r *Redactor) TrimCutEnd(s string) string {
	if r == nil || len(r.needles) == 0 || s == "" {
		return s
	}
	cut := len(s)
	for _, v := range viewsOf(s) {
		needles := r.needlesFor(v)
		borders := make([][]int32, len(needles))
		for g := 0; g <= min(maxEscape-1, len(s)); g++ {
			frag := s[len(s)-g:]
			if g > 0 && v == viewRaw {
				break
			}
			if g > 0 && !escapeHead(frag) {
				continue // a longer fragment may still be one
			}
			d := decode(s[:len(s)-g], v)
			for i, n := range needles {
				if borders[i] == nil {
					borders[i] = prefixFunction(n)
				}
				k, ok := startOfValue(d.text, borders[i], n, frag)
				switch {
				case ok && k > 0:
					cut = min(cut, d.start(len(d.text)-k))
				case ok:
					cut = min(cut, len(s)-g)
				}
			}
		}
	}
	return s[:cut]
}

// startOfValue returns the length k of the longest suffix of t that is a
// prefix of needle n (the whole of it too) and that frag, the start of an escape cut after
// it, can be the start of an escape of the character of n after (ok false
// if there is none; k = 0 with ok if frag alone, of two bytes or more, is
// the start of an escape of n's first character). border is
// prefixFunction(n). Only the last len(n) bytes of t can hold such a
// suffix, so its cost is linear in len(n).
func startOfValue(t string, border []int32, n, frag string) (k int, ok bool) {
	q := 0 // n[:q] ends at t[i]
	for i := max(0, len(t)-len(n)); i < len(t); i++ {
		for q > 0 && (q == len(n) || n[q] != t[i]) {
			q = int(border[q-1])
		}
		if n[q] == t[i] {
			q++
		}
	}
	for k = q; ; k = int(border[k-1]) {
		switch {
		case frag == "" && k > 0:
			return k, true
		case frag != "" && (k > 0 || len(frag) > 1) && fragmentStarts(frag, n[k:], k > 0):
			return k, true
		}
		if k == 0 {
			return 0, false
		}
	}
}

// unread returns the part of the original after the unit that gave
// text[k-1], without the NULs that decode drops.
func (d decoded) unread(k int) string {
	return strings.ReplaceAll(d.src[d.end(k-1):], "\x00", "")
}

// prefixFunction returns, for each i, the length of the longest proper
// prefix of p that is also a suffix of p[:i+1] (Knuth–Morris–Pratt).
func prefixFunction(p string) []int32 {
	border := make([]int32, len(p))
	for i := 1; i < len(p); i++ {
		k := border[i-1]
		for k > 0 && p[i] != p[k] {
			k = border[k-1]
		}
		if p[i] == p[k] {
			k++
		}
		border[i] = k
	}
	return border
}

// escapeTail reports whether s, as far as its bytes go, can be the end of
// an escape (hex or decimal digits, the letters of \u, \U and the entities,
// and # ; { } \ ' ").
func escapeTail(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isEscapeByte(s[i]) {
			return false
		}
	}
	return true
}

// escapeHead reports whether s, as far as its bytes go, can be the start of
// an escape: it starts with one of % \ & ' and goes on with bytes of one.
func escapeHead(s string) bool {
	return s != "" && strings.IndexByte(`%\&'`, s[0]) >= 0 && escapeTail(s[1:])
}

func isEscapeByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte(`#;{}\'"`, c) >= 0
}

// nulEscapes are the escapes of NUL, which decode drops: one may stand
// between any two characters of a value (UTF-16 text).
var nulEscapes = []string{`%00`, `\x00`, `\000`, `\u0000`, `\U00000000`, `\u{0}`, `&#0;`, `&#x0;`}

// fragmentEnds reports whether frag can be the end of an escape of the last
// byte or character of s, or, if nul is set (a part of the value follows
// it), of a NUL.
func fragmentEnds(frag, s string, nul bool) bool {
	if s == "" {
		return false
	}
	r, size := utf8.DecodeLastRuneInString(s)
	return fragmentOf(frag, true, s[len(s)-1], r, size, nul)
}

// fragmentStarts reports whether frag can be the start of an escape of the
// first byte or character of s, or, if nul is set (a part of the value
// comes before it), of a NUL.
func fragmentStarts(frag, s string, nul bool) bool {
	if s == "" {
		return false
	}
	r, size := utf8.DecodeRuneInString(s)
	return fragmentOf(frag, false, s[0], r, size, nul)
}

// fragmentOf reports whether frag is, in any case, a proper end (if end is
// set) or start of an escape that decode reads as byte b, as character r
// (unless r is RuneError of size 1: b is not part of valid UTF-8) or, if
// nul is set, as NUL. A space also stands for "+", which decode folds into
// one. It builds each escape in turn in a buffer, allocating nothing.
func fragmentOf(frag string, end bool, b byte, r rune, size int, nul bool) bool {
	fits := func(e []byte) bool {
		if len(e) <= len(frag) { // a whole escape is no fragment: decode reads it
			return false
		}
		if end {
			e = e[len(e)-len(frag):]
		}
		for i := range len(frag) {
			if lower(e[i]) != lower(frag[i]) {
				return false
			}
		}
		return true
	}
	var buf [32]byte
	for _, x := range [2]byte{b, '+'} {
		if fits(appendHex(append(buf[:0], '%'), rune(x), 2)) ||
			fits(appendHex(append(buf[:0], `\x`...), rune(x), 2)) ||
			fits(append(buf[:0], '\\', '0'+x>>6, '0'+x>>3&7, '0'+x&7)) {
			return true
		}
		if b != ' ' {
			break
		}
	}
	if nul {
		for _, e := range nulEscapes {
			if fits(append(buf[:0], e...)) {
				return true
			}
		}
	}
	if r == utf8.RuneError && size <= 1 {
		return false
	}
	for _, r := range [2]rune{r, '+'} {
		u := appendHex(append(buf[:0], `\u`...), r, 4)
		if r > 0xFFFF {
			u = appendHex(append(buf[:0], `\u`...), 0xD800+(r-0x10000)>>10, 4)
			u = appendHex(append(u, `\u`...), 0xDC00+(r-0x10000)&0x3FF, 4)
		}
		if fits(u) ||
			fits(appendHex(append(buf[:0], `\U`...), r, 8)) ||
			fits(append(appendHex(append(buf[:0], `\u{`...), r, 1), '}')) ||
			fits(append(strconv.AppendInt(append(buf[:0], `&#`...), int64(r), 10), ';')) ||
			fits(append(appendHex(append(buf[:0], `&#x`...), r, 1), ';')) {
			return true
		}
		if i := strings.IndexRune(`<>&"'`, r); i >= 0 && fits(append(buf[:0], [...]string{"&lt;", "&gt;", "&amp;", "&quot;", "&apos;"}[i]...)) {
			return true
		}
		if r == '\'' && (fits(append(buf[:0], `'\''`...)) || fits(append(buf[:0], `'"'"'`...))) {
			return true
		}
		if i := strings.IndexRune("\n\r\t\b\f\v\a", r); i >= 0 && fits(append(buf[:0], '\\', "nrtbfva"[i])) {
			return true
		}
		if r < utf8.RuneSelf && isPunctOrSpace(byte(r)) && fits(append(buf[:0], '\\', byte(r))) {
			return true
		}
		if r != ' ' {
			break
		}
	}
	return false
}

// appendHex appends r in lower-case hex with at least width digits.
func appendHex(b []byte, r rune, width int) []byte {
	const digits = "0123456789abcdef"
	n := 1
	for v := r >> 4; v > 0; v >>= 4 {
		n++
	}
	for i := n; i < width; i++ {
		b = append(b, '0')
	}
	for i := n - 1; i >= 0; i-- {
		b = append(b, digits[r>>(4*i)&0xF])
	}
	return b
}

// lower returns the ASCII byte c in lower case.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
