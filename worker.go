package wsspi

import (
	"sync"

	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
)

// worker is a simulated thread of the process that waits alertably
// forever, so that APCs queued to it run promptly: the thread
// WPUOpenCurrentThread names, playing the part of ws2ifsl's APC thread.
type worker struct {
	th   *iocp.Thread
	done sync.WaitGroup
	quit chan struct{}
}

// workerThread returns the process's worker, starting it on first use.
func (p *Process) workerThread() (*worker, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.worker != nil {
		return p.worker, nil
	}
	th, err := p.kernel.NewThread()
	if err != nil {
		return nil, err
	}
	w := &worker{th: th, quit: make(chan struct{})}
	w.done.Add(1)
	go w.run()
	p.worker = w
	return w, nil
}

func (w *worker) run() {
	defer w.done.Done()
	for {
		select {
		case <-w.quit:
			return
		default:
		}
		_, _ = w.th.SleepEx(spi.Infinite, true)
	}
}

// stop ends the worker: an APC wakes its wait, it sees quit and returns,
// and stop waits for that.
func (w *worker) stop() {
	close(w.quit)
	_ = w.th.QueueAPC(func(any) {}, nil)
	w.done.Wait()
	w.th.Exit()
}
