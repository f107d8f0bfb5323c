"""Pure reasoning over the evidence, with no I/O: the fused answer, the checks that verify an
answer before it is committed, the prediction built from the belief, locatability, and the
digest of what the tools found."""
