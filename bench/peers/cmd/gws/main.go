// Command gws is the gws peer server of ripple-bench (see bench/peers/gwspeer).
package main

import (
	"github.com/ripple-rt/ripple/bench/peers/gwspeer"
	"github.com/ripple-rt/ripple/bench/peers/peermain"
)

func main() { peermain.Main("gws", gwspeer.Serve) }
