# Tests of consensus/ (owned by whoever works on consensus/).
