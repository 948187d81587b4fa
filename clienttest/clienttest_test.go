package clienttest_test

import (
	"testing"

	"github.com/wsspi/wsspi/clienttest"
)

func TestProbeEcho(t *testing.T) { clienttest.Run(t, echo) }
func TestProbePort(t *testing.T) { clienttest.Run(t, portRecv) }
