// Command nbio is the nbio peer server of ripple-bench (see bench/peers/nbiopeer).
package main

import (
	"github.com/ripple-rt/ripple/bench/peers/nbiopeer"
	"github.com/ripple-rt/ripple/bench/peers/peermain"
)

func main() { peermain.Main("nbio", nbiopeer.Serve) }
