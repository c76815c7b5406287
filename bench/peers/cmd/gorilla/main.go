// Command gorilla is the gorilla peer server of ripple-bench (see bench/peers/gorillahub).
package main

import (
	"github.com/ripple-rt/ripple/bench/peers/gorillahub"
	"github.com/ripple-rt/ripple/bench/peers/peermain"
)

func main() { peermain.Main("gorilla", gorillahub.Serve) }
