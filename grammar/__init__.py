"""The tensorc grammar (tensorc.lark), shipped inside the package as `tensorc.grammar`."""
