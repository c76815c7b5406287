// Command centrifuge is the centrifuge peer server of ripple-bench (see
// bench/peers/centrifugepeer).
package main

import (
	"github.com/ripple-rt/ripple/bench/peers/centrifugepeer"
	"github.com/ripple-rt/ripple/bench/peers/peermain"
)

func main() { peermain.Main("centrifuge", centrifugepeer.Serve) }
