package stats

import (
	"errors"
	"math"
	"testing"

	"github.com/probity/probity"
)

// METHODS §6's 10 predictions.
var (
	calConf    = []float64{0.95, 0.9, 0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.55, 0.3}
	calCorrect = []bool{true, true, false, true, true, false, true, false, true, false}
)

func TestECEVectors(t *testing.T) {
	tests := []struct {
		scheme BinScheme
		bins   int
		want   float64
	}{
		{EqualWidth, 10, 0.25},
		{EqualWidthLeftClosed, 10, 0.28},
		{EqualWidth, 5, 0.16},
		{EqualWidthLeftClosed, 5, 0.20},
		{EqualMass, 2, 0.11},
		{EqualMass, 5, 0.20},
	}
	for _, tt := range tests {
		d, err := ReliabilityDiagram(calConf, calCorrect, BinOptions{Bins: tt.bins, Scheme: tt.scheme})
		if err != nil {
			t.Fatal(err)
		}
		if !near(d.ECE, tt.want, tol) {
			t.Errorf("ECE(%v, M=%d) = %.6f, want %.6f", tt.scheme, tt.bins, d.ECE, tt.want)
		}
		n := 0
		for _, b := range d.Bins {
			n += b.N
			if !b.Interval.Contains(b.Rate) {
				t.Errorf("%v M=%d: bin %+v: interval does not contain its rate", tt.scheme, tt.bins, b)
			}
		}
		if n != len(calConf) {
			t.Errorf("%v M=%d: bins hold %d forecasts, want %d", tt.scheme, tt.bins, n, len(calConf))
		}
	}
}

func TestBrierVectors(t *testing.T) {
	r := Brier(calConf, calCorrect)
	tests := []struct {
		name      string
		got, want float64
	}{
		{"Score", r.Score, 0.2205},
		{"Reliability", r.Reliability, 0.1205},
		{"Resolution", r.Resolution, 0.14},
		{"Uncertainty", r.Uncertainty, 0.24},
		{"Rel-Res+Unc", r.Reliability - r.Resolution + r.Uncertainty, r.Score},
	}
	for _, tt := range tests {
		if !near(tt.got, tt.want, 1e-12) {
			t.Errorf("Brier.%s = %.9f, want %.6f", tt.name, tt.got, tt.want)
		}
	}
	if r.N != 10 || len(r.Bins) == 0 {
		t.Errorf("Brier N = %d, %d bins", r.N, len(r.Bins))
	}
	// Binned (M = 5, right-closed): the decomposition no longer adds up.
	d, err := ReliabilityDiagram(calConf, calCorrect, BinOptions{Bins: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !near(d.Reliability, 0.032833, tol) || !near(d.Resolution, 0.04, tol) {
		t.Errorf("binned REL, RES = %.6f, %.6f, want 0.032833, 0.040000", d.Reliability, d.Resolution)
	}
	if gap := r.Score - (d.Reliability - d.Resolution + r.Uncertainty); !near(gap, -0.012333, tol) {
		t.Errorf("binned gap = %.6f, want -0.012333", gap)
	}
	// The default diagram bins: 0.7 belongs to (0.6, 0.7] and 0.3 to
	// (0.2, 0.3] under the right-closed convention.
	want := map[float64]int{0.3: 1, 0.6: 3, 0.7: 1, 0.8: 2, 0.9: 2, 1.0: 1}
	for _, b := range r.Bins {
		if got := want[math.Round(b.Hi*10)/10]; got != b.N {
			t.Errorf("bin (%.1f, %.1f] holds %d, want %d", b.Lo, b.Hi, b.N, got)
		}
	}
}

func TestWidthBinEdges(t *testing.T) {
	tests := []struct {
		f     float64
		m     int
		right bool
		want  int
	}{
		{0, 10, true, 0}, {1, 10, true, 9}, {0.7, 10, true, 6}, {0.7, 10, false, 7},
		{0.1 + 0.2, 10, true, 2}, {0.1 + 0.2, 10, false, 3}, {0.55, 10, true, 5}, {0.55, 10, false, 5},
		{1, 10, false, 9}, {0, 10, false, 0}, {0.999, 3, true, 2}, {1.0 / 3, 3, true, 0}, {1.0 / 3, 3, false, 1},
	}
	for _, tt := range tests {
		if got := widthBin(tt.f, tt.m, tt.right); got != tt.want {
			t.Errorf("widthBin(%v, %d, right=%v) = %d, want %d", tt.f, tt.m, tt.right, got, tt.want)
		}
	}
}

func TestCalibrationInvalid(t *testing.T) {
	for name, in := range map[string]struct {
		p []float64
		o []bool
	}{
		"empty": {nil, nil}, "mismatch": {[]float64{0.5}, []bool{true, false}},
		"NaN": {[]float64{0.5, math.NaN()}, []bool{true, false}}, "above 1": {[]float64{1.5}, []bool{true}},
		"negative": {[]float64{-0.1}, []bool{true}},
	} {
		if r := Brier(in.p, in.o); !math.IsNaN(r.Score) || r.Bins != nil {
			t.Errorf("Brier(%s) = %+v, want NaN", name, r)
		}
		_, err := ReliabilityDiagram(in.p, in.o, BinOptions{})
		var pe *probity.Error
		if !errors.As(err, &pe) || pe.Code != probity.EINVALID {
			t.Errorf("ReliabilityDiagram(%s) error = %v, want EINVALID", name, err)
		}
	}
	_, err := ReliabilityDiagram([]float64{0.2, 0.4, math.NaN()}, []bool{true, true, false}, BinOptions{})
	var pe *probity.Error
	if !errors.As(err, &pe) || pe.Where != "forecast 2" {
		t.Errorf("error %v should name forecast 2", err)
	}
	if _, err := ReliabilityDiagram(calConf, calCorrect, BinOptions{Bins: -3}); err == nil {
		t.Error("Bins = -3 accepted")
	}
	// More bins than forecasts: empty bins are left out.
	d, err := ReliabilityDiagram([]float64{0.5, 0.6}, []bool{true, false}, BinOptions{Bins: 5, Scheme: EqualMass})
	if err != nil || len(d.Bins) != 2 {
		t.Errorf("EqualMass with 5 bins for 2 items: %d bins, err %v, want 2", len(d.Bins), err)
	}
}
