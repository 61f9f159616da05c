package main

import (
	"net"
	"path/filepath"
	"testing"
)

func TestATakenPortIsReplacedByAFreeOne(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got, err := addr(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if got == l.Addr().String() {
		t.Fatalf("addr(%s) returned the taken port", got)
	}
	free, err := addr(got)
	if err != nil || free != got {
		t.Errorf("a free preferred address %s is kept, got %s (%v)", got, free, err)
	}
}

func TestASecondRunWritesItsKubeconfigApart(t *testing.T) {
	root := t.TempDir()
	first, release, err := runDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if first != filepath.Join(root, "bin", "run") {
		t.Errorf("the first run uses %s", first)
	}
	second, releaseSecond, err := runDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatalf("a second run beside the first uses the same directory %s", second)
	}
	releaseSecond()
	release()
	again, releaseAgain, err := runDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAgain()
	if again != first {
		t.Errorf("once the first run ended, the next uses %s, want %s", again, first)
	}
}
