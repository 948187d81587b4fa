package clienttest_test

import (
	"runtime"
	"strconv"
)

func runtimeGoexit() { runtime.Goexit() }

func itoa(n int) string { return strconv.Itoa(n) }
