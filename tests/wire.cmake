# Tests of wire/ (owned by whoever works on wire/).
