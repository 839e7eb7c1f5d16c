from modelyard.cli.app import main

main()
