"""From retrieved chunks to a cited answer.

sources      which chunks an answer rests on, and the sentences of each shown to the LLM
answerable   whether the retrieved text can answer at all (decided before the LLM is asked)
compose      the prompt, and answers built from the sources (extractive, verdicts, names)
names        checking a name answer against the evidence
citations    checking and placing [n] markers after generation
prompts      loading prompts/*.txt templates
result       Answer, what the caller gets back
"""
