# Tests of crypto/ (owned by whoever works on crypto/).
