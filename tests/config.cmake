# Tests of config/ (owned by whoever works on config/).
