"""Reading a question: the outlets and dates it names, the claims it is made of, the kind of answer it expects."""
