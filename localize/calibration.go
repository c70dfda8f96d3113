package localize

import "math"

// Platt is a logistic map from a raw score to a probability: Platt's
// scaling, 1/(1+exp(-(A·x+B))).
type Platt struct{ A, B float64 }

// Apply maps x to a probability.
func (p Platt) Apply(x float64) float64 { return 1 / (1 + math.Exp(-(p.A*x + p.B))) }

// calibration maps the top candidate's share of the votes to the
// probability that its step is a labelled failure step. The numbers come
// from TestCalibrationFit (go test -run TestCalibrationFit -v ./localize),
// which fits them on the shared labelled runs (AgentRx retail failed runs,
// Who&When algorithm-generated) and reports reliability, ECE and Brier out
// of fold; the test fails when these constants and the fit drift apart.
var calibration = Platt{A: -0.4664, B: 0.1428}

// Calibrate maps a raw top share to a calibrated confidence.
func Calibrate(raw float64) float64 { return calibration.Apply(raw) }

// FitPlatt fits A and B by Newton's method on the log loss, with Platt's
// smoothed targets ((n₊+1)/(n₊+2) and 1/(n₋+2)) so that a handful of
// examples cannot push a probability to 0 or 1.
func FitPlatt(x []float64, y []bool) Platt {
	var pos, neg float64
	for _, v := range y {
		if v {
			pos++
		} else {
			neg++
		}
	}
	hi, lo := (pos+1)/(pos+2), 1/(neg+2)
	p := Platt{A: 0, B: math.Log((pos + 1) / (neg + 1))}
	for iter := 0; iter < 100; iter++ {
		var ga, gb, haa, hab, hbb float64
		for i := range x {
			t := lo
			if y[i] {
				t = hi
			}
			q := p.Apply(x[i])
			d := q - t
			w := q * (1 - q)
			ga += d * x[i]
			gb += d
			haa += w * x[i] * x[i]
			hab += w * x[i]
			hbb += w
		}
		haa += 1e-9
		hbb += 1e-9
		det := haa*hbb - hab*hab
		if det == 0 {
			break
		}
		da := (hbb*ga - hab*gb) / det
		db := (haa*gb - hab*ga) / det
		p.A -= da
		p.B -= db
		if math.Abs(da) < 1e-10 && math.Abs(db) < 1e-10 {
			break
		}
	}
	return p
}
