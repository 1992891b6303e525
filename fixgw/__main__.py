from fixgw.cli import main

main()
