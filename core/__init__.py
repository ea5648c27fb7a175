"""core: what every layer of queuebench shares (the contract, scenario declarations, the error
tree, the results schema, the probe, process helpers, the embedded Redis). It imports nothing
else of the project; see README.md here."""
