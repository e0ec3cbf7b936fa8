"""Benchmarks for tensorc: ``python -m benchmarks [--quick] [--only W] [--frameworks ...]``.

Modules:
    workloads      the workloads as data: tensorc program, inputs, competing implementations
    timing         warm-up, interleaved blocks of calls, median / IQR, tracemalloc peaks
    frameworks     per-framework adapters (conversion, jit, sync, threads)
    run_framework  measures one framework in its own process and prints JSON
    report         markdown tables, results.json and the chart
    __main__       the driver: one subprocess per framework, then the report
"""
