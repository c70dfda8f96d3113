package stats

import "math"

// DiscreteSemanticEntropy returns the semantic entropy −Σ p log p (natural
// log) of M sampled answers grouped into meaning clusters with the given
// sizes, p = size/M (the discrete variant of Farquhar, Kossen, Kuhn & Gal,
// Nature 2024). High entropy means the model gives different answers to the
// same question when resampled: a confabulation signal (0.79 AUROC averaged
// over their 30 task-model pairs). It does not catch answers that are
// consistently wrong. Empty clusters are ignored; a negative size or no
// samples gives NaN.
func DiscreteSemanticEntropy(clusterSizes []int) float64 {
	p := make([]float64, len(clusterSizes))
	for i, s := range clusterSizes {
		if s < 0 {
			return math.NaN()
		}
		p[i] = float64(s)
	}
	return entropyOf(p)
}

// SemanticEntropy returns the semantic entropy when each sampled answer i
// has a sequence probability probs[i] and belongs to meaning cluster
// cluster[i]: P(c) = Σ_{i∈c} probs[i], normalised over the sampled clusters,
// and SE = −Σ_c P(c) log P(c). Clustering is by bidirectional entailment and
// is the caller's job. It returns NaN for mismatched lengths, a negative or
// NaN probability, a negative cluster id, or zero total probability.
func SemanticEntropy(probs []float64, cluster []int) float64 {
	if len(probs) != len(cluster) {
		return math.NaN()
	}
	mass := map[int]float64{}
	for i, p := range probs {
		if !(p >= 0) || math.IsInf(p, 0) || cluster[i] < 0 {
			return math.NaN()
		}
		mass[cluster[i]] += p
	}
	ps := make([]float64, 0, len(mass))
	for _, m := range mass {
		ps = append(ps, m)
	}
	return entropyOf(ps)
}

// entropyOf normalises weights and returns their entropy in nats.
func entropyOf(w []float64) float64 {
	total := 0.0
	for _, x := range w {
		total += x
	}
	if !(total > 0) {
		return math.NaN()
	}
	h := 0.0
	for _, x := range w {
		if x > 0 {
			p := x / total
			h -= p * math.Log(p)
		}
	}
	return h
}
