package detect

import (
	"bytes"
	"regexp"
	"sort"
	"strings"
)

// anchoredRE is a regular expression that only runs near its anchors:
// lower-case substrings one of which every match contains. Go's regexp has
// no literal prefix to skip ahead with for a case-insensitive alternation of
// phrases and then crawls through text at a few MB/s; a substring search
// for the anchors is two orders of magnitude faster, and matches are rare.
type anchoredRE struct {
	re      *regexp.Regexp
	anchors [][]byte
	whole   []bool // the anchor counts only as a whole word
	reach   int    // how far before or after an anchor a match may extend
}

// newAnchored compiles expr to run near anchors. An anchor written
// `\bword\b` counts only where it stands as a whole word: a short word
// every match holds as a word ("ai") would otherwise be found inside
// countless others ("again", "email").
func newAnchored(expr string, reach int, anchors ...string) *anchoredRE {
	a := &anchoredRE{re: regexp.MustCompile(expr), reach: reach}
	for _, w := range anchors {
		inner, ok := strings.CutPrefix(w, `\b`)
		if inner, ok2 := strings.CutSuffix(inner, `\b`); ok && ok2 {
			a.anchors, a.whole = append(a.anchors, []byte(inner)), append(a.whole, true)
			continue
		}
		a.anchors, a.whole = append(a.anchors, []byte(w)), append(a.whole, false)
	}
	return a
}

// findAll returns up to n match locations in text, earliest first. lower
// must be text with its ASCII letters lower-cased (same byte offsets).
func (a *anchoredRE) findAll(text string, lower []byte, n int) [][]int {
	var out [][]int
	var seen map[int]bool // made on the first match: most texts have none
	// With n > 0 only the n earliest matches are wanted. bound is the n-th
	// earliest start found so far (-1 until there are n); sorted says out
	// is in order, so out[n-1] is that start.
	bound, sorted := -1, true
	for i, an := range a.anchors {
		for off := 0; off < len(lower); {
			k := bytes.Index(lower[off:], an)
			if k < 0 {
				break
			}
			k += off
			off = k + len(an)
			if a.whole[i] && (k > 0 && isWordByte(lower[k-1]) || off < len(lower) && isWordByte(lower[off])) {
				continue
			}
			if n > 0 && len(out) >= n {
				if !sorted {
					sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
					bound, sorted = out[n-1][0], true
				}
				// No window from here on starts at or before the n-th
				// earliest match (widen moves a start back at most 64
				// bytes), so none can displace it: skip the regexp for
				// the rest of this anchor.
				if k-a.reach-64 > bound {
					break
				}
			}
			from, to := widen(text, k-a.reach, k+len(an)+a.reach)
			for _, loc := range a.re.FindAllStringIndex(text[from:to], -1) {
				// A match must overlap the anchor that found it (an anchor
				// may carry a space the match does not); others are found
				// from their own anchors, with a proper window.
				if s, e := from+loc[0], from+loc[1]; s < k+len(an) && k < e && !seen[s] {
					if seen == nil {
						seen = map[int]bool{}
					}
					seen[s] = true
					out = append(out, []int{s, e})
					sorted = false
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// find returns the earliest match location in text, or nil.
func (a *anchoredRE) find(text string, lower []byte) []int {
	if m := a.findAll(text, lower, 1); len(m) > 0 {
		return m[0]
	}
	return nil
}

// widen clamps [from, to) to text and moves both ends out to a non-word
// byte, so a window never starts or ends inside a word (which would let \b
// match where the full text has none).
func widen(text string, from, to int) (int, int) {
	from, to = max(0, from), min(len(text), to)
	// At most 64 bytes more each way: a base64 blob is one long "word".
	for lim := from - 64; from > 0 && from > lim && (isWordByte(text[from-1]) || text[from]&0xC0 == 0x80); {
		from--
	}
	for lim := to + 64; to < len(text) && to < lim && (isWordByte(text[to]) || text[to]&0xC0 == 0x80); {
		to++
	}
	return from, to
}

// lowerBytes returns s with its ASCII letters lower-cased, reusing buf.
func lowerBytes(s string, buf *[]byte) []byte {
	b := append((*buf)[:0], s...)
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	*buf = b
	return b
}

// anchorIndex finds many anchors in one pass over a text: a table keyed by
// an anchor's first two bytes rejects almost every position with one load,
// where a bytes.Index per anchor would read the text once per anchor.
type anchorIndex struct {
	anchors [][]byte
	slot    [1 << 16]int32 // 1 + index into lists, 0 when no anchor starts so
	lists   [][]int        // anchors (by index) sharing a two-byte prefix
}

func newAnchorIndex(anchors []string) *anchorIndex {
	x := &anchorIndex{}
	for i, a := range anchors {
		if len(a) < 2 {
			panic("anchor shorter than two bytes: " + a)
		}
		x.anchors = append(x.anchors, []byte(a))
		key := uint16(a[0])<<8 | uint16(a[1])
		if x.slot[key] == 0 {
			x.lists = append(x.lists, nil)
			x.slot[key] = int32(len(x.lists))
		}
		x.lists[x.slot[key]-1] = append(x.lists[x.slot[key]-1], i)
	}
	return x
}

// each calls fn for every occurrence of every anchor in lower, in text
// order; fn returns false to stop.
func (x *anchorIndex) each(lower []byte, fn func(pos, anchor int) bool) {
	for i := 0; i+1 < len(lower); i++ {
		s := x.slot[uint16(lower[i])<<8|uint16(lower[i+1])]
		if s == 0 {
			continue
		}
		for _, a := range x.lists[s-1] {
			if bytes.HasPrefix(lower[i:], x.anchors[a]) && !fn(i, a) {
				return
			}
		}
	}
}
