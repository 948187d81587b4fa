package spi_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/spi"
)

// The record an owner declares survives Reset and travels with a copy, and
// comparisons (==, cmp) see the Windows fields: a client's Overlapped
// compares as before, and a provider can tell its own Overlapped from a
// copy only by address.
func TestOverlappedRecordSurvivesResetAndIsNotCompared(t *testing.T) {
	type owner struct{ ov spi.Overlapped }
	o := &owner{}
	o.ov.SetRecord(o)
	o.ov.SetInProgress()
	o.ov.StoreOffset(3)
	copied := o.ov
	if got, _ := copied.Record().(*owner); got != o || &got.ov == &copied {
		t.Errorf("a copy's record is %p (its owner's overlapped at %p, the copy at %p)", got, &o.ov, &copied)
	}
	o.ov.Reset()
	if got, _ := o.ov.Record().(*owner); got != o {
		t.Errorf("Reset lost the record: %v", o.ov.Record())
	}
	if diff := cmp.Diff(spi.Overlapped{}, o.ov); diff != "" {
		t.Errorf("after Reset, the Windows fields are not zero (-want +got):\n%s", diff)
	}
	plain := spi.Overlapped{Internal: spi.WSS_OPERATION_IN_PROGRESS, Offset: 3}
	if !plain.Equal(copied) || cmp.Diff(plain, copied) != "" {
		t.Errorf("an Overlapped with a record differs from one with the same fields and none")
	}
	if plain.Equal(spi.Overlapped{Internal: spi.WSS_OPERATION_IN_PROGRESS, Offset: 4}) {
		t.Errorf("Equal ignores Offset")
	}
}
