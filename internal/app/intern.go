package app

import "sync"

// Strings the cache interns: one copy of each value is shared by every cached
// object that holds it. Partners repeat the same few values by the thousand
// (metric names, reporters, condition types, reasons and messages, tier names),
// and the JSON decoder gives each occurrence its own copy.
//
// Go's unique package does not fit: it keeps a canonical value only while a
// unique.Handle to it lives, and the cache keeps plain strings, so each GC
// cycle would start a new canonical copy.
const (
	// maxInternedLen is the longest string interned; longer ones are
	// seldom repeated. With internGeneration it bounds what the interner
	// alone can keep alive to about 4 MiB, and far less in practice: the
	// strings it holds are mostly held by cached objects too.
	maxInternedLen = 512
	// internGeneration is how many strings one generation of the interner
	// holds before it is retired (see interner).
	internGeneration = 4096
)

// interner maps each string to its shared copy. Its memory is bounded even
// when it is fed strings that never repeat: when the current generation is
// full it becomes the previous one and the one before is dropped; a string
// found in the previous generation moves to the current one. Strings in use
// by many objects (the bounded sets the cache meets) stay; one-off strings
// age out. A dropped string stays valid in the objects that hold it; later
// objects just get a new copy.
type interner struct {
	mu       sync.Mutex
	current  map[string]string
	previous map[string]string
}

// cacheStrings is the interner of the manager's cache transform.
var cacheStrings = &interner{}

// intern returns the shared copy of s, equal to s.
func (in *interner) intern(s string) string {
	if s == "" || len(s) > maxInternedLen {
		return s
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if c, ok := in.current[s]; ok {
		return c
	}
	c, ok := in.previous[s]
	if !ok {
		c = s
	}
	if in.current == nil || len(in.current) >= internGeneration {
		in.previous, in.current = in.current, make(map[string]string, internGeneration/8)
	}
	in.current[c] = c
	return c
}

// internAll interns every element of ss in place.
func internAll[S ~[]E, E ~string](in *interner, ss S) {
	for i := range ss {
		ss[i] = E(in.intern(string(ss[i])))
	}
}

// internMap interns m's keys and values in place. Assigning an equal key
// replaces the stored key string too (the runtime updates string keys).
func internMap(in *interner, m map[string]string) {
	for k, v := range m {
		m[in.intern(k)] = in.intern(v)
	}
}

// internString interns a string of a named string type.
func internString[E ~string](in *interner, s *E) {
	*s = E(in.intern(string(*s)))
}
