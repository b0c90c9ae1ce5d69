package secrets

import (
	"strings"
	"unicode/utf8"
)

// A program prints a value in whatever escaping its language or format
// uses, and may mix several in one string (a JSON string of a URL, a shell
// word with one quote escaped), so the redactor does not enumerate the
// escaped forms of each value. It decodes the text once, escape by escape,
// into a canonical form, keeping for every canonical byte the span of the
// text it came from; values are matched in the canonical form and removed
// from the text by those spans. Decoding is one left-to-right pass that
// looks at most maxEscape bytes ahead, so its cost is linear in the text.
//
// One escape (a unit) gives one byte or one character:
//
//	%HH              percent-encoding, either hex case
//	\xHH \ooo        a byte in hex or octal (C, Python, bash $'…')
//	\uHHHH           a UTF-16 unit; a surrogate pair gives one character
//	\UHHHHHHHH \u{H…} a code point (Python, C; JavaScript, Rust)
//	\n \r \t \b \f \v \a
//	\ and any ASCII punctuation, space or tab: that character (JSON's \" \\
//	                 \/, shell and printf %q escaping)
//	&#NN; &#xHH;     HTML and XML numeric references
//	&lt; &gt; &amp; &quot; &apos; (any case)
//	'\'' '"'"'       a quote written inside shell single quotes
//
// anything else is itself. The canonical form is then folded: "+" reads as
// a space (a value's spaces are "+" in a URL query and a "+" may be a
// space), and NUL bytes are dropped, so a value printed as UTF-16 text
// (NUL after each ASCII byte), or with \x00 or \u0000 between its
// characters, reads as itself. Values are folded the same way.

// maxEscape is the length of the longest unit: a surrogate pair,
// \uHHHH\uHHHH, or a decimal reference with ten digits, &#DDDDDDDDDD;.
const maxEscape = 13

// decoded is a text, src, in canonical form. Byte i of text came from the
// unit src[from[i]:to[i]]; a unit that gives several bytes (a
// character from \u00e9) gives each the same span, and a dropped NUL
// belongs to the unit before it.
type decoded struct {
	src, text string
	from, to  []int32 // nil for the raw view, where they are i and i+1
}

// start returns where in the original the unit that gave text[i] starts.
func (d decoded) start(i int) int {
	if d.from == nil {
		return i
	}
	return int(d.from[i])
}

// end returns where in the original the unit that gave text[i] ends.
func (d decoded) end(i int) int {
	if d.to == nil {
		return i + 1
	}
	return int(d.to[i])
}

// view says how to read a text: as it is (viewRaw), or folded (see above)
// with the escapes of some families decoded and the others read as
// themselves. A value can hold text that looks like an escape of one family
// (%2B in a SAS token, &amp; in a query string, a backslash) and be printed
// in another family's escaping (HTML, JSON, shell quotes): only a view that
// decodes the printer's family and not the value's finds it. So the
// redactor reads a text in every combination of the families present in it.
type view uint8

const (
	viewRaw      view = 0
	folded       view = 1 << iota // "+" read as a space, NUL bytes dropped
	famPercent                    // %HH
	famBackslash                  // \x.. \u.. \n \" …
	famEntity                     // &#..; &lt; …
	famShell                      // '\'' and '"'"'
)

// families pairs each family with the byte that starts its escapes: a text
// without it reads the same with or without the family.
var families = [...]struct {
	f     view
	start byte
}{{famPercent, '%'}, {famBackslash, '\\'}, {famEntity, '&'}, {famShell, '\''}}

// viewsOf returns the views in which to look for values in s: the raw view
// and a folded view for every combination of the families whose escapes s
// can hold, none included: 1 + 2^k views for k families present.
func viewsOf(s string) []view {
	var present []view
	for _, fam := range families {
		if strings.IndexByte(s, fam.start) >= 0 {
			present = append(present, fam.f)
		}
	}
	views := make([]view, 1, 1+1<<len(present)) // viewRaw first
	for set := range 1 << len(present) {
		v := folded
		for i, f := range present {
			if set&(1<<i) != 0 {
				v |= f
			}
		}
		views = append(views, v)
	}
	return views
}

// decode returns s in canonical form as v reads it. It never fails: what is
// not a complete escape is itself.
func decode(s string, v view) decoded {
	if v == viewRaw || strings.IndexAny(s, special) < 0 {
		return decoded{src: s, text: s}
	}
	text := make([]byte, len(s)) // decoding never lengthens a text
	from, to := make([]int32, len(s)), make([]int32, len(s))
	k := 0 // text[:k] is written
	var buf [utf8.UTFMax]byte
	for i := 0; i < len(s); {
		if !plain[s[i]] {
			n, r, isByte := unit(s[i:], v)
			out := buf[:1]
			if isByte || r < utf8.RuneSelf {
				buf[0] = byte(r)
			} else {
				out = utf8.AppendRune(buf[:0], r)
			}
			for _, c := range out {
				switch c {
				case 0:
					// Dropped, but part of the character before
					// it (UTF-16): a value that ends there takes
					// it along.
					if k > 0 {
						to[k-1] = int32(i + n)
					}
					continue
				case '+':
					c = ' '
				}
				text[k], from[k], to[k] = c, int32(i), int32(i+n)
				k++
			}
			i += n
			continue
		}
		// A run of bytes that are themselves, the most of any text.
		for ; i < len(s) && plain[s[i]]; i++ {
			text[k], from[k], to[k] = s[i], int32(i), int32(i+1)
			k++
		}
	}
	return decoded{src: s, text: string(text[:k]), from: from[:k], to: to[:k]}
}

// special are the bytes that start an escape or are folded; the others
// are themselves wherever they are, and plain marks them.
const special = "%\\&'+\x00"

var plain = func() (p [256]bool) {
	for c := range p {
		p[c] = strings.IndexByte(special, byte(c)) < 0
	}
	return p
}()

// fold returns a value as decode writes it in a folded view: "+" as a
// space, without NUL.
func fold(v string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case 0:
			return -1
		case '+':
			return ' '
		}
		return r
	}, v)
}

// unit returns the length of the unit at the start of s (which is not
// empty) and what it gives: a byte (isByte) or a character. It reads only
// the escapes of the families in v.
func unit(s string, v view) (n int, r rune, isByte bool) {
	switch s[0] {
	case '%':
		if v&famPercent == 0 {
			break
		}
		if h, ok := hexValue(s[1:], 2); ok {
			return 3, h, true
		}
	case '\\':
		if v&famBackslash != 0 && len(s) > 1 {
			if n, r, isByte := backslashUnit(s); n > 0 {
				return n, r, isByte
			}
		}
	case '&':
		if v&famEntity == 0 {
			break
		}
		if n, r := entity(s); n > 0 {
			return n, r, false
		}
	case '\'':
		if v&famShell == 0 {
			break
		}
		// Shell single quotes cannot hold a quote: it is written by
		// closing them, writing an escaped or double-quoted quote and
		// opening them again.
		if strings.HasPrefix(s, `'\''`) {
			return 4, '\'', false
		}
		if strings.HasPrefix(s, `'"'"'`) {
			return 5, '\'', false
		}
	}
	return 1, rune(s[0]), true
}

// backslashUnit reads the escape at the start of s, which starts with a
// backslash and has at least two bytes. It returns n = 0 if s does not start
// with one.
func backslashUnit(s string) (n int, r rune, isByte bool) {
	c := s[1]
	switch c {
	case 'x':
		if h, ok := hexValue(s[2:], 2); ok {
			return 4, h, true
		}
	case 'u':
		if strings.HasPrefix(s[2:], "{") {
			end := strings.IndexByte(s[3:min(len(s), 10)], '}')
			if h, ok := hexValue(s[3:], end); ok && end > 0 && validRune(h) {
				return end + 4, h, false
			}
			return 0, 0, false
		}
		h, ok := hexValue(s[2:], 4)
		if !ok {
			return 0, 0, false
		}
		if !isSurrogate(h) {
			return 6, h, false
		}
		if h < 0xDC00 && strings.HasPrefix(s[6:], `\u`) {
			if lo, ok := hexValue(s[8:], 4); ok && 0xDC00 <= lo && lo < 0xE000 {
				return 12, 0x10000 + (h-0xD800)<<10 + (lo - 0xDC00), false
			}
		}
		return 0, 0, false // half a pair is no character
	case 'U':
		if h, ok := hexValue(s[2:], 8); ok && validRune(h) {
			return 10, h, false
		}
	case 'n', 'r', 't', 'b', 'f', 'v', 'a':
		return 2, control(c), true
	}
	if '0' <= c && c <= '7' {
		v, k := rune(0), 1
		for ; k <= 3 && k < len(s) && '0' <= s[k] && s[k] <= '7'; k++ {
			v = v*8 + rune(s[k]-'0')
		}
		if v <= 0xFF {
			return k, v, true
		}
		return 0, 0, false
	}
	if c < utf8.RuneSelf && isPunctOrSpace(c) {
		return 2, rune(c), true
	}
	return 0, 0, false
}

// control returns the control character that \c stands for.
func control(c byte) rune {
	return rune("\n\r\t\b\f\v\a"[strings.IndexByte("nrtbfva", c)])
}

// entity reads the character reference at the start of s, which starts with
// "&". It returns n = 0 if s does not start with one.
func entity(s string) (n int, r rune) {
	if len(s) > 2 && s[1] == '#' {
		// Leading zeros are allowed, up to a unit of maxEscape bytes.
		digits, base, most := s[2:], rune(10), maxEscape-3
		if s[2] == 'x' || s[2] == 'X' {
			digits, base, most = s[3:], 16, maxEscape-4
		}
		v, k := rune(0), 0
		for ; k < len(digits) && k < most; k++ {
			d, ok := digitValue(digits[k], base)
			if !ok {
				break
			}
			v = min(v*base+d, utf8.MaxRune+1) // bounded: no overflow
		}
		if k == 0 || k >= len(digits) || digits[k] != ';' || !validRune(v) {
			return 0, 0
		}
		return len(s) - len(digits) + k + 1, v
	}
	for _, e := range [...]struct {
		name string
		r    rune
	}{{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}} {
		if len(s) >= len(e.name) && strings.EqualFold(s[:len(e.name)], e.name) {
			return len(e.name), e.r
		}
	}
	return 0, 0
}

// hexValue returns the value of the first n bytes of s as hex digits, or
// false if s is shorter or one of them is not a hex digit.
func hexValue(s string, n int) (rune, bool) {
	if n <= 0 || len(s) < n {
		return 0, false
	}
	var v rune
	for i := range n {
		d, ok := digitValue(s[i], 16)
		if !ok {
			return 0, false
		}
		v = v<<4 | d
	}
	return v, true
}

// digitValue returns the value of c as a digit in base 10 or 16.
func digitValue(c byte, base rune) (rune, bool) {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0'), true
	case base == 16 && 'a' <= c && c <= 'f':
		return rune(c-'a') + 10, true
	case base == 16 && 'A' <= c && c <= 'F':
		return rune(c-'A') + 10, true
	}
	return 0, false
}

func isSurrogate(r rune) bool { return 0xD800 <= r && r < 0xE000 }

// validRune reports whether r is a Unicode scalar value.
func validRune(r rune) bool { return 0 <= r && r <= utf8.MaxRune && !isSurrogate(r) }

// isPunctOrSpace reports whether the ASCII byte c is punctuation, a symbol,
// a space or a tab: the characters that escapers put a backslash before.
func isPunctOrSpace(c byte) bool {
	switch {
	case c == ' ' || c == '\t':
		return true
	case c <= ' ' || c >= 0x7F:
		return false
	case '0' <= c && c <= '9', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		return false
	}
	return true
}
