// Command kubectl-partnergov is the `kubectl partnergov` plugin: put it on the PATH
// and run `kubectl partnergov approve|deny REQUEST --reason "..."`.
package main

import (
	"context"
	"fmt"
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/partnergov/partnergov/internal/plugin"
)

// version is stamped at build time with -ldflags "-X main.version=..." (make plugin, make dist).
var version = "dev"

func main() {
	plugin.Version = version
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if err := plugin.Run(context.Background(), streams, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
