package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// model is the artifact written to model.bin.json. To score a row, build its
// features in Features order (one-hot plan columns are 0 or 1), standardize
// every feature as (x-Mean)/Std, and apply sigmoid(Bias + Weights·x); a score
// of Threshold or more predicts churn.
type model struct {
	Kind      string    `json:"kind"`
	Label     string    `json:"label"`
	Features  []string  `json:"features"`
	Mean      []float64 `json:"mean"`
	Std       []float64 `json:"std"`
	Weights   []float64 `json:"weights"`
	Bias      float64   `json:"bias"`
	Threshold float64   `json:"threshold"`
}

func (m *model) predict(raw []float64) float64 {
	z := m.Bias
	for j, v := range raw {
		z += m.Weights[j] * (v - m.Mean[j]) / m.Std[j]
	}
	return sigmoid(z)
}

// split holds out a testFraction of each class. Splitting per class keeps
// the churn rate the same on both sides and puts both classes in the test
// split, which AUC needs. The same seed gives the same split.
func split(y []float64, testFraction float64, seed uint64) (train, test []int) {
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, class := range []float64{0, 1} {
		var idx []int
		for i, v := range y {
			if v == class {
				idx = append(idx, i)
			}
		}
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		k := int(math.Round(testFraction * float64(len(idx))))
		test = append(test, idx[:k]...)
		train = append(train, idx[k:]...)
	}
	slices.Sort(train)
	slices.Sort(test)
	return train, test
}

// fit standardizes the features with the training rows' statistics (the test
// rows must not leak into them) and runs batch gradient descent on the mean
// log loss plus l2/2·|w|² (the bias is not penalized).
func fit(d dataset, trainIdx []int, c config) *model {
	nf := len(d.x[0])
	m := &model{
		Kind:      "logistic-regression",
		Label:     labelColumn,
		Features:  featureNames(),
		Mean:      make([]float64, nf),
		Std:       make([]float64, nf),
		Weights:   make([]float64, nf),
		Threshold: 0.5,
	}
	n := float64(len(trainIdx))
	for j := range nf {
		m.Std[j] = 1
		if j >= len(numericColumns) {
			continue // one-hot columns stay 0/1: mean 0, std 1
		}
		var sum, sq float64
		for _, r := range trainIdx {
			sum += d.x[r][j]
		}
		m.Mean[j] = sum / n
		for _, r := range trainIdx {
			sq += (d.x[r][j] - m.Mean[j]) * (d.x[r][j] - m.Mean[j])
		}
		if std := math.Sqrt(sq / n); std > 0 { // a constant column keeps std 1
			m.Std[j] = std
		}
	}

	x := make([][]float64, len(trainIdx))
	for i, r := range trainIdx {
		x[i] = make([]float64, nf)
		for j, v := range d.x[r] {
			x[i][j] = (v - m.Mean[j]) / m.Std[j]
		}
	}
	grad := make([]float64, nf)
	for range c.epochs {
		clear(grad)
		var gb float64
		for i, r := range trainIdx {
			z := m.Bias
			for j, v := range x[i] {
				z += m.Weights[j] * v
			}
			e := sigmoid(z) - d.y[r]
			for j, v := range x[i] {
				grad[j] += e * v
			}
			gb += e
		}
		for j := range m.Weights {
			m.Weights[j] -= c.learningRate * (grad[j]/n + c.l2*m.Weights[j])
		}
		m.Bias -= c.learningRate * gb / n
	}
	return m
}

// sigmoid needs no special case: for very negative z, Exp(-z) is +Inf and
// the result 0, never NaN.
func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// evaluate returns the metrics registered with the model version; the
// thresholded ones predict churn when the score is at least threshold.
func evaluate(probs, labels []float64, threshold float64) map[string]float64 {
	var tp, fp, tn, fn float64
	for i, p := range probs {
		switch pred, pos := p >= threshold, labels[i] == 1; {
		case pred && pos:
			tp++
		case pred:
			fp++
		case pos:
			fn++
		default:
			tn++
		}
	}
	precision, recall := ratio(tp, tp+fp), ratio(tp, tp+fn)
	return map[string]float64{
		"accuracy":  ratio(tp+tn, tp+tn+fp+fn),
		"auc":       auc(probs, labels),
		"log_loss":  logLoss(probs, labels),
		"precision": precision,
		"recall":    recall,
		"f1":        ratio(2*precision*recall, precision+recall),
	}
}

// ratio is 0 when there is nothing to divide by (e.g. precision with no
// positive predictions), since JSON has no NaN.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// auc is the ROC AUC as the Mann–Whitney rank statistic: the chance that a
// random positive scores above a random negative, ties counting half (tied
// scores share their average rank). It is 0.5 when a class is missing.
func auc(scores, labels []float64) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var rankSum, pos float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		rank := float64(i+j+1) / 2 // average of the 1-based ranks i+1..j
		for _, k := range idx[i:j] {
			if labels[k] == 1 {
				rankSum += rank
				pos++
			}
		}
		i = j
	}
	neg := float64(len(scores)) - pos
	if pos == 0 || neg == 0 {
		return 0.5
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

// logLoss is the mean negative log-likelihood; probabilities are clipped so
// one confident mistake costs a lot but not infinity.
func logLoss(probs, labels []float64) float64 {
	const eps = 1e-15
	var sum float64
	for i, p := range probs {
		p = min(max(p, eps), 1-eps)
		if labels[i] == 1 {
			sum -= math.Log(p)
		} else {
			sum -= math.Log(1 - p)
		}
	}
	return sum / float64(len(probs))
}
