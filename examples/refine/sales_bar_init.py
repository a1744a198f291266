import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
quarters = ['Q1', 'Q2', 'Q3', 'Q4']
revenue = [10, 14, 11, 9]
ax.bar(quarters, revenue, color='#dd8452')
ax.set_title('Annual Costs 2021')
ax.set_xlabel('Quarter')
ax.set_ylabel('Revenue (M$)')
