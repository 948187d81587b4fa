package trace

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// Text writes events to w as a plain-text timeline, one line per event:
// its sequence number, process id, thread (for client calls and APCs), the
// layer that acts (the caller of a call, the layer that returns, the layer
// an event happens in), then what happened, indented by the layer's depth,
// from the client down to the kernel. A call ends with the layer it goes
// to. Failures show their Windows error name and number:
//
//	seq  pid    thread  layer                      event
//	  1  p8     0x4     client                     WSASend(0xc, 5 bytes) -> ws2_32
//	  2  p8             ws2_32                       WSPSend(0xc, 5 bytes, thread 0x4) -> MSAFD Tcpip [TCP/IP] 1001
//	  3  p8             kernel                             completion on 0xc: ok, 5 bytes -> port 0x14 key 42
//	  4  p8             MSAFD Tcpip [TCP/IP] 1001        WSPSend = ok, 5 bytes
//	  5  p8     0x4     ws2_32                       WSASend = ok, 5 bytes
//	...
//	 14  p8     0x4     ws2_32                       WSASend = WSAENOTCONN (10057)
//
// An empty trace gives the line "no events". Text returns the first error
// of w.
func Text(w io.Writer, events []Event) error {
	bw := bufio.NewWriter(w)
	if len(events) == 0 {
		bw.WriteString("no events\n")
		return bw.Flush()
	}
	parts := participants(events)
	depth := make(map[participant]int, len(parts))
	width := len("layer")
	for i, p := range parts {
		if i > 0 && parts[i-1].pid == p.pid {
			depth[p] = depth[parts[i-1]] + 1
		}
		width = max(width, len(p.layer.String()))
	}
	seqWidth := max(len("seq"), len(strconv.FormatUint(events[len(events)-1].Seq, 10)))
	pad := func(s string, n int) string { return s + strings.Repeat(" ", max(0, n-len(s))) }
	lpad := func(s string, n int) string { return strings.Repeat(" ", max(0, n-len(s))) + s }
	bw.WriteString(lpad("seq", seqWidth) + "  pid    thread  " + pad("layer", width) + "  event\n")
	for _, e := range events {
		a := actor(e)
		thread := ""
		if e.Kind == ClientCall || e.Kind == ClientReturn || e.Kind == APCRun {
			if e.Thread != 0 {
				thread = e.Thread.String()
			}
		}
		line := lpad(strconv.FormatUint(e.Seq, 10), seqWidth) + "  " +
			pad("p"+strconv.FormatUint(uint64(e.PID), 10), 5) + "  " +
			pad(thread, 6) + "  " + pad(a.String(), width) + "  " +
			strings.Repeat("  ", depth[participant{e.PID, a}]) + describe(e)
		if e.Kind.IsCall() {
			line += " -> " + e.Layer.String()
		}
		bw.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	return bw.Flush()
}

// Mermaid writes events to w as a Mermaid sequenceDiagram, which GitHub
// renders in Markdown inside a ```mermaid block. Each layer of each process
// is a participant (lifeline): the client, ws2_32, the IFS layer, each
// provider layer by name and catalog id, the kernel; with several processes
// their labels carry the process id. Calls are solid arrows from caller to
// callee (a client call names its thread), returns dashed arrows back; transitions, completions and handles
// are notes over the IFS layer and the kernel; an APC run is an arrow from
// the kernel to the client. An empty trace gives an empty diagram. Mermaid
// returns the first error of w.
func Mermaid(w io.Writer, events []Event) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("sequenceDiagram\n")
	parts := participants(events)
	many := len(parts) > 0 && parts[0].pid != parts[len(parts)-1].pid
	ids := make(map[participant]string, len(parts))
	used := map[string]bool{}
	for _, p := range parts {
		id := mermaidID(p, many)
		for n := 2; used[id]; n++ {
			id = mermaidID(p, many) + "_" + strconv.Itoa(n)
		}
		used[id] = true
		ids[p] = id
		label := p.layer.String()
		if many {
			label += ", pid " + strconv.FormatUint(uint64(p.pid), 10)
		}
		bw.WriteString("    participant " + id + " as " + mermaidText(label) + "\n")
	}
	for _, e := range events {
		at := ids[participant{e.PID, e.Layer}]
		from := ids[participant{e.PID, e.Caller}]
		text := describe(e)
		if e.Kind == ClientCall && e.Thread != 0 {
			text = "thread " + e.Thread.String() + ": " + text
		}
		text = mermaidText(text)
		switch {
		case e.Kind.IsCall() && from != "" && at != "":
			bw.WriteString("    " + from + "->>" + at + ": " + text + "\n")
		case e.Kind.IsReturn() && from != "" && at != "":
			bw.WriteString("    " + at + "-->>" + from + ": " + text + "\n")
		case e.Kind == APCRun && at != "" && ids[participant{e.PID, Layer{Kind: LayerClient}}] != "":
			bw.WriteString("    " + at + "-)" + ids[participant{e.PID, Layer{Kind: LayerClient}}] + ": " + text + "\n")
		case at != "":
			bw.WriteString("    Note over " + at + ": " + text + "\n")
		}
	}
	return bw.Flush()
}

// mermaidID is a participant's id in the diagram source: C, W, I, K, or L
// and the catalog id for a provider layer, with the process id after an
// underscore when the trace has several processes.
func mermaidID(p participant, many bool) string {
	var id string
	switch p.layer.Kind {
	case LayerClient:
		id = "C"
	case LayerWinsock:
		id = "W"
	case LayerIFS:
		id = "I"
	case LayerKernel:
		id = "K"
	case LayerProvider:
		id = "L" + strconv.FormatUint(uint64(p.layer.ID), 10)
	default:
		id = "X" + strconv.Itoa(int(p.layer.Kind))
	}
	if many {
		id += "_" + strconv.FormatUint(uint64(p.pid), 10)
	}
	return id
}

// mermaidText escapes what Mermaid reads as syntax inside a label or a
// message: '#' starts an entity and ';' ends a statement.
func mermaidText(s string) string {
	if !strings.ContainsAny(s, "#;\n") {
		return s
	}
	return strings.NewReplacer("#", "#35;", ";", "#59;", "\n", " ").Replace(s)
}
