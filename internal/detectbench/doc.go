// Package detectbench measures the detectors on the real traces in
// ../shared/data and on faults it plants into the successful ones.
package detectbench
