package classify

import "github.com/bounced-dev/bounced/processor/reply"

// automaton is a byte-level Aho-Corasick automaton compiled to a dense DFA
// over byte classes. It reports which literals occur in a text in one pass,
// so the cost per event does not grow with the number of rules.
//
// Case folding and whitespace folding live in the class table: 'A' and 'a'
// share a class, every ASCII space character maps to the class of ' ', so
// the scan needs no lower-cased copy of the text and does not allocate.
type automaton struct {
	class    [256]uint8
	nclass   int
	delta    []uint32 // state*nclass + class → next state | outFlag
	outStart []int32  // outputs of state s are outs[outStart[s]:outStart[s+1]]
	outs     []int32  // literal ids
}

// newAutomaton compiles lits (already folded: lower-case ASCII, single
// spaces) into an automaton whose outputs are indexes into lits.
func newAutomaton(lits []string) *automaton {
	a := &automaton{}
	// Byte classes: class 0 is every byte no literal uses.
	n := 1
	for _, l := range lits {
		for i := 0; i < len(l); i++ {
			if a.class[l[i]] == 0 {
				a.class[l[i]] = uint8(n)
				n++
			}
		}
	}
	if n > 256 {
		// Cannot happen: at most 256 distinct bytes, and upper-case ASCII
		// never appears in folded literals, so there are at most 230.
		n = 256
	}
	for c := 'A'; c <= 'Z'; c++ {
		a.class[c] = a.class[c+'a'-'A']
	}
	for _, c := range []byte{'\t', '\n', '\v', '\f', '\r'} {
		a.class[c] = a.class[' ']
	}
	a.nclass = n

	// Trie.
	type node struct {
		next map[uint8]int32
		out  []int32
	}
	nodes := []node{{next: map[uint8]int32{}}}
	for id, l := range lits {
		s := int32(0)
		for i := 0; i < len(l); i++ {
			c := a.class[l[i]]
			nx, ok := nodes[s].next[c]
			if !ok {
				nx = int32(len(nodes))
				nodes = append(nodes, node{next: map[uint8]int32{}})
				nodes[s].next[c] = nx
			}
			s = nx
		}
		nodes[s].out = append(nodes[s].out, int32(id))
	}

	// Breadth-first: failure links become DFA transitions, and each state
	// inherits the outputs of its failure state.
	ns := len(nodes)
	delta := make([]int32, ns*n)
	fail := make([]int32, ns)
	outs := make([][]int32, ns)
	outs[0] = nodes[0].out
	queue := make([]int32, 0, ns)
	for c := 0; c < n; c++ {
		if nx, ok := nodes[0].next[uint8(c)]; ok {
			delta[c] = nx
			fail[nx] = 0
			queue = append(queue, nx)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		outs[s] = append(append([]int32(nil), nodes[s].out...), outs[fail[s]]...)
		for c := 0; c < n; c++ {
			f := delta[int(fail[s])*n+c]
			if nx, ok := nodes[s].next[uint8(c)]; ok {
				if s == 0 {
					f = 0
				}
				fail[nx] = f
				delta[int(s)*n+c] = nx
				queue = append(queue, nx)
			} else {
				delta[int(s)*n+c] = f
			}
		}
	}
	a.outStart = make([]int32, ns+1)
	for s := 0; s < ns; s++ {
		a.outStart[s+1] = a.outStart[s] + int32(len(outs[s]))
		a.outs = append(a.outs, outs[s]...)
	}
	// Flag transitions into states with outputs, so the scan touches the
	// output table only when something matched.
	a.delta = make([]uint32, len(delta))
	for i, t := range delta {
		a.delta[i] = uint32(t)
		if a.outStart[t+1] > a.outStart[t] {
			a.delta[i] |= outFlag
		}
	}
	return a
}

// outFlag marks a transition into a state that reports literals.
const outFlag = 1 << 31

// scan sets bit i of hits for every literal i that occurs in text.
//
// The text is read as the scanner normalises it: runs of whitespace count as
// one space, and the continuation prefixes of multi-line replies ("550-" and
// "550-5.7.1 " at the start of a word) are skipped, so a phrase that a
// server wrapped over several lines still matches.
func (a *automaton) scan(text string, hits []uint64) {
	n := a.nclass
	s := uint32(0)
	space := true // at the start of a word
	for i := 0; i < len(text); {
		c := text[i]
		if isSpace(c) {
			if !space {
				s = a.step(s, ' ', n, hits)
				space = true
			}
			i++
			continue
		}
		if space && c >= '0' && c <= '9' {
			if k := reply.Continuation(text[i:]); k > 0 {
				i += k
				continue
			}
		}
		space = false
		s = a.step(s, c, n, hits)
		i++
	}
}

func (a *automaton) step(s uint32, c byte, n int, hits []uint64) uint32 {
	t := a.delta[int(s)*n+int(a.class[c])]
	s = t &^ outFlag
	if t&outFlag != 0 {
		for _, id := range a.outs[a.outStart[s]:a.outStart[s+1]] {
			hits[id>>6] |= 1 << (uint(id) & 63)
		}
	}
	return s
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
