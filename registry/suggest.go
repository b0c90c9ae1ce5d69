package registry

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/internal/editdist"
)

// maxSuggestLen bounds the work Suggest does on hostile input: no registered
// id is anywhere near this long, so a longer query has no close id anyway.
const maxSuggestLen = 256

// Suggest returns at most three ids listed on runtime that are close to
// model, closest first, for "did you mean" answers. Closeness is the
// case-insensitive edit distance, improved by a shared namespace (the text
// before the first '/' or ':') and a shared prefix. The distance of the ids
// without their namespaces, plus one, counts too, so "anthropic/claude-x"
// finds "claude-x". An id is close when its distance is at most
// max(2, len(model)/4), or when it shares model's namespace and at least
// three more leading characters. Ties go to the id
// whose first differing character is nearest (so "gpt-5.6" prefers "gpt-5.5"
// to "gpt-5.2"), then to the smaller id.
//
// It returns an empty, non-nil slice when nothing is close, the runtime is
// unknown, or model is empty or implausibly long.
func (c *Catalog) Suggest(runtime, model string) []string {
	out := []string{}
	ri, ok := c.runtimes[runtime]
	if !ok {
		return out
	}
	q := strings.ToLower(strings.TrimSpace(model))
	if q == "" || utf8.RuneCountInString(q) > maxSuggestLen {
		return out
	}
	qr := []rune(q)
	qns := namespace(q)
	limit := max(2, len(qr)/4)

	type candidate struct {
		id              string
		score, nearness int
	}
	var cands []candidate
	for _, id := range ri.ids {
		lower := strings.ToLower(id)
		ir := []rune(lower)
		d := editdist.Runes(qr, ir)
		if qrest, irest := withoutNamespace(qr), withoutNamespace(ir); len(qrest) != len(qr) || len(irest) != len(ir) {
			d = min(d, editdist.Runes(qrest, irest)+1)
		}
		cp := commonPrefix(qr, ir)
		sameNS := qns != "" && qns == namespace(lower)
		if d > limit && !(sameNS && cp >= utf8.RuneCountInString(qns)+1+3) {
			continue
		}
		score := 4*d - min(cp, 8)
		if sameNS {
			score -= 4
		}
		nearness := 0
		if cp < len(qr) && cp < len(ir) {
			nearness = abs(int(qr[cp]) - int(ir[cp]))
		}
		cands = append(cands, candidate{id: id, score: score, nearness: nearness})
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if a.score != b.score {
			return a.score - b.score
		}
		if a.nearness != b.nearness {
			return a.nearness - b.nearness
		}
		return strings.Compare(a.id, b.id)
	})
	for i := 0; i < len(cands) && i < 3; i++ {
		out = append(out, cands[i].id)
	}
	return out
}

// namespace returns the text before the first '/' or ':' of id, or "" if
// it has none.
func namespace(id string) string {
	if i := strings.IndexAny(id, "/:"); i > 0 {
		return id[:i]
	}
	return ""
}

// withoutNamespace returns id after its namespace and separator, or id if
// it has no namespace.
func withoutNamespace(id []rune) []rune {
	for i, r := range id {
		if r == '/' || r == ':' {
			if i == 0 {
				break
			}
			return id[i+1:]
		}
	}
	return id
}

func commonPrefix(a, b []rune) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
